// PksInterruptRule: pks_interrupt_verdict() (pks_interrupt_rule.hpp) behind a
// TLM-2.0 target socket. A payload carries a PksInterruptExtension;
// b_transport writes its verdict (taken or why not, and the checks that
// failed) and sets TLM_OK_RESPONSE.
#pragma once

#include "faultline/models/oracle_target.hpp"
#include "faultline/models/pks_interrupt_rule.hpp"

namespace faultline::models {

using PksInterruptExtension = OracleExtension<PksInterruptSituation, PksInterruptVerdict>;

class PksInterruptRule
    : public OracleTarget<PksInterruptSituation, PksInterruptVerdict, pks_interrupt_verdict> {
public:
    explicit PksInterruptRule(sc_core::sc_module_name name) : OracleTarget(name) {}
    const char* kind() const override { return "faultline::models::PksInterruptRule"; }
};

}  // namespace faultline::models

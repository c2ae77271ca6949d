// RseqRule: rseq_verdict() (rseq_rule.hpp) behind a TLM-2.0 target socket.
// A payload carries an RseqEventExtension; b_transport writes its verdict
// (resumes, aborts to abort_ip, or SIGSEGV) and sets TLM_OK_RESPONSE.
#pragma once

#include "faultline/models/oracle_target.hpp"
#include "faultline/models/rseq_rule.hpp"

namespace faultline::models {

using RseqEventExtension = OracleExtension<RseqSituation, RseqVerdict>;

class RseqRule : public OracleTarget<RseqSituation, RseqVerdict, rseq_verdict> {
public:
    explicit RseqRule(sc_core::sc_module_name name) : OracleTarget(name) {}
    const char* kind() const override { return "faultline::models::RseqRule"; }
};

}  // namespace faultline::models

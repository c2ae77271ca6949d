// PkCheck: check_access() (pk_check.hpp) behind a TLM-2.0 target socket.
// A payload carries a PkAccessExtension; b_transport writes its verdict
// (allowed, or the #PF error code) and sets TLM_OK_RESPONSE.
#pragma once

#include "faultline/models/oracle_target.hpp"
#include "faultline/models/pk_check.hpp"

namespace faultline::models {

using PkAccessExtension = OracleExtension<PkAccess, PkVerdict>;

class PkCheck : public OracleTarget<PkAccess, PkVerdict, check_access> {
public:
    explicit PkCheck(sc_core::sc_module_name name) : OracleTarget(name) {}
    const char* kind() const override { return "faultline::models::PkCheck"; }
};

}  // namespace faultline::models

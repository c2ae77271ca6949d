// XinuseTracker: xinuse_verdict() (xinuse.hpp) behind a TLM-2.0 target
// socket. A payload carries an XinuseExtension; b_transport writes its
// verdict (XINUSE, and the XSTATE_BV written or XGETBV 1's value) and sets
// TLM_OK_RESPONSE.
#pragma once

#include "faultline/models/oracle_target.hpp"
#include "faultline/models/xinuse.hpp"

namespace faultline::models {

using XinuseExtension = OracleExtension<XinuseQuery, XinuseVerdict>;

class XinuseTracker : public OracleTarget<XinuseQuery, XinuseVerdict, xinuse_verdict> {
public:
    explicit XinuseTracker(sc_core::sc_module_name name) : OracleTarget(name) {}
    const char* kind() const override { return "faultline::models::XinuseTracker"; }
};

}  // namespace faultline::models

// Each model bound to an initiator socket, as a simulation would wire it.
// SystemC elaborates once per process: the bench is built on first use and
// the simulation started for zero time, after which a test calls b_transport
// through the bound sockets from outside any process (the models never wait).
#pragma once

#include <optional>
#include <tlm>

#include "faultline/models/pk_check.hpp"
#include "faultline/models/pks_interrupt_rule.hpp"
#include "faultline/models/rseq_rule.hpp"
#include "faultline/models/xinuse.hpp"

namespace faultline::models::bench {

PkVerdict through_pk_check(const PkAccess& access);
RseqVerdict through_rseq_rule(const RseqSituation& situation);
XinuseVerdict through_xinuse_tracker(const XinuseQuery& query);
PksInterruptVerdict through_pks_interrupt_rule(const PksInterruptSituation& situation);

// The response status of a payload carrying the query, or no extension at
// all for nullopt.
tlm::tlm_response_status pk_check_status(const std::optional<PkAccess>& access);
tlm::tlm_response_status rseq_rule_status(const std::optional<RseqSituation>& situation);
tlm::tlm_response_status xinuse_tracker_status(const std::optional<XinuseQuery>& query);
tlm::tlm_response_status pks_interrupt_rule_status(
    const std::optional<PksInterruptSituation>& situation);

}  // namespace faultline::models::bench

// Each model bound to an initiator socket, as a simulation would wire it.
// SystemC elaborates once per process: the bench is built on first use and
// the simulation started for zero time, after which a test calls b_transport
// through the bound sockets from outside any process (the models never wait).
#pragma once

#include <tlm>

#include "faultline/models/pk_check.hpp"
#include "faultline/models/rseq_rule.hpp"

namespace faultline::models::bench {

PkVerdict through_pk_check(const PkAccess& access);
RseqVerdict through_rseq_rule(const RseqSituation& situation);

// What each model answers a payload that carries no extension.
tlm::tlm_response_status pk_check_response_without_extension();
tlm::tlm_response_status rseq_rule_response_without_extension();

}  // namespace faultline::models::bench

#include "bench.hpp"

#include <gtest/gtest.h>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "faultline/models/pk_check_module.hpp"
#include "faultline/models/pks_interrupt_rule_module.hpp"
#include "faultline/models/rseq_rule_module.hpp"
#include "faultline/models/xinuse_module.hpp"

namespace faultline::models::bench {

namespace {

struct Bench : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<Bench> to_pk_check{"to_pk_check"};
    tlm_utils::simple_initiator_socket<Bench> to_rseq_rule{"to_rseq_rule"};
    tlm_utils::simple_initiator_socket<Bench> to_xinuse_tracker{"to_xinuse_tracker"};
    tlm_utils::simple_initiator_socket<Bench> to_pks_interrupt_rule{"to_pks_interrupt_rule"};
    PkCheck pk_check{"pk_check"};
    RseqRule rseq_rule{"rseq_rule"};
    XinuseTracker xinuse_tracker{"xinuse_tracker"};
    PksInterruptRule pks_interrupt_rule{"pks_interrupt_rule"};

    explicit Bench(sc_core::sc_module_name name) : sc_core::sc_module(name) {
        to_pk_check.bind(pk_check.socket);
        to_rseq_rule.bind(rseq_rule.socket);
        to_xinuse_tracker.bind(xinuse_tracker.socket);
        to_pks_interrupt_rule.bind(pks_interrupt_rule.socket);
    }
};

Bench& bench() {
    static Bench* instance = [] {
        auto* b = new Bench("bench");
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
        return b;
    }();
    return *instance;
}

// Sends a payload with the extension (none for nullptr) and returns the
// response status.
template <class Extension>
tlm::tlm_response_status transport(tlm_utils::simple_initiator_socket<Bench>& socket,
                                   Extension* extension) {
    tlm::tlm_generic_payload payload;
    payload.set_command(tlm::TLM_IGNORE_COMMAND);
    payload.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    if (extension != nullptr) {
        payload.set_extension(extension);
    }
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    socket->b_transport(payload, delay);
    // The extension belongs to the caller.
    if (extension != nullptr) {
        payload.clear_extension(extension);
    }
    EXPECT_EQ(delay, sc_core::SC_ZERO_TIME);
    return payload.get_response_status();
}

template <class Extension>
decltype(Extension::verdict) ask(tlm_utils::simple_initiator_socket<Bench>& socket,
                                 const decltype(Extension::query)& query) {
    Extension extension(query);
    EXPECT_EQ(transport(socket, &extension), tlm::TLM_OK_RESPONSE);
    return extension.verdict;
}

template <class Extension>
tlm::tlm_response_status status(tlm_utils::simple_initiator_socket<Bench>& socket,
                                const std::optional<decltype(Extension::query)>& query) {
    if (!query) {
        return transport<Extension>(socket, nullptr);
    }
    Extension extension(*query);
    return transport(socket, &extension);
}

}  // namespace

PkVerdict through_pk_check(const PkAccess& access) {
    return ask<PkAccessExtension>(bench().to_pk_check, access);
}

RseqVerdict through_rseq_rule(const RseqSituation& situation) {
    return ask<RseqEventExtension>(bench().to_rseq_rule, situation);
}

XinuseVerdict through_xinuse_tracker(const XinuseQuery& query) {
    return ask<XinuseExtension>(bench().to_xinuse_tracker, query);
}

PksInterruptVerdict through_pks_interrupt_rule(const PksInterruptSituation& situation) {
    return ask<PksInterruptExtension>(bench().to_pks_interrupt_rule, situation);
}

tlm::tlm_response_status pk_check_status(const std::optional<PkAccess>& access) {
    return status<PkAccessExtension>(bench().to_pk_check, access);
}

tlm::tlm_response_status rseq_rule_status(const std::optional<RseqSituation>& situation) {
    return status<RseqEventExtension>(bench().to_rseq_rule, situation);
}

tlm::tlm_response_status xinuse_tracker_status(const std::optional<XinuseQuery>& query) {
    return status<XinuseExtension>(bench().to_xinuse_tracker, query);
}

tlm::tlm_response_status pks_interrupt_rule_status(
    const std::optional<PksInterruptSituation>& situation) {
    return status<PksInterruptExtension>(bench().to_pks_interrupt_rule, situation);
}

}  // namespace faultline::models::bench

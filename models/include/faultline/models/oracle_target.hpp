// The shape every model here shares: a SystemC module with one TLM-2.0
// target socket whose b_transport answers a query carried in a payload
// extension by calling the model's plain C++ rule. The check sits beside the
// emulator, fed with the inputs of an access or an event, not on a bus: the
// payload's command, address and data are not used, and the answer takes no
// simulated time.
#pragma once

#include <stdexcept>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

namespace faultline::models {

// The initiator fills in query; the target writes verdict.
template <class Query, class Verdict>
class OracleExtension : public tlm::tlm_extension<OracleExtension<Query, Verdict>> {
public:
    Query query;
    Verdict verdict;

    OracleExtension() = default;
    explicit OracleExtension(const Query& q) : query(q) {}
    tlm::tlm_extension_base* clone() const override { return new OracleExtension(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override {
        *this = static_cast<const OracleExtension&>(other);
    }
};

template <class Query, class Verdict, Verdict (*rule)(const Query&)>
class OracleTarget : public sc_core::sc_module {
public:
    using Extension = OracleExtension<Query, Verdict>;

    tlm_utils::simple_target_socket<OracleTarget> socket;

    explicit OracleTarget(sc_core::sc_module_name name) : sc_core::sc_module(name), socket("socket") {
        socket.register_b_transport(this, &OracleTarget::b_transport);
    }

private:
    // A payload without the extension asks nothing this model can answer; a
    // query the rule rejects (std::invalid_argument) has no answer.
    void b_transport(tlm::tlm_generic_payload& payload, sc_core::sc_time&) {
        auto* extension = payload.template get_extension<Extension>();
        if (extension == nullptr) {
            payload.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
            return;
        }
        try {
            extension->verdict = rule(extension->query);
        } catch (const std::invalid_argument&) {
            payload.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
            return;
        }
        payload.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

}  // namespace faultline::models

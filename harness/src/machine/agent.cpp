#include "faultline/machine/agent.hpp"

#include <sys/random.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

constexpr size_t kSecretBytes = 16;

std::string random_secret() {
    unsigned char bytes[kSecretBytes];
    size_t got = 0;
    while (got < sizeof(bytes)) {
        ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
        if (n < 0 && errno != EINTR) {
            throw Error(std::string("getrandom: ") + strerror(errno));
        }
        got += n > 0 ? size_t(n) : 0;
    }
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char b : bytes) {
        hex += digits[b >> 4];
        hex += digits[b & 15];
    }
    return hex;
}

void expect_shape(const Message& fields, size_t count, const char* reply) {
    if (fields.size() != count || fields[0] != "ok") {
        std::string first = fields.empty() ? "nothing" : "'" + fields[0] + "'";
        throw AgentError(std::string("malformed reply to ") + reply + ": " +
                         std::to_string(fields.size()) + " fields starting with " + first +
                         ", not ok and " + std::to_string(count - 1) + " more");
    }
}

// The whole field as a number of type T, or AgentError naming it.
template <typename T>
T number(const std::string& field, const char* reply, const char* what, int base = 10) {
    T value{};
    auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value, base);
    if (field.empty() || error != std::errc() || end != field.data() + field.size()) {
        throw AgentError(std::string("malformed reply to ") + reply + ": " + what + " '" + field +
                         "' is not a " + (base == 16 ? "hexadecimal " : "") + "number in range");
    }
    return value;
}

}  // namespace

AgentSession::AgentSession() : secret_(random_secret()) {}

AgentSession::AgentSession(std::string secret, uint64_t next_sequence)
    : secret_(std::move(secret)), next_sequence_(next_sequence) {}

Message AgentSession::greeting() const { return {"secret", secret_}; }

Message AgentSession::accept(const Message& reply) {
    if (reply.size() < 2 || reply[0] != secret_) {
        throw AgentError("a reply without this boot's secret came through the mailbox: a program "
                         "in the guest forged a handshake");
    }
    std::string expected = std::to_string(next_sequence_);
    if (reply[1] != expected) {
        throw AgentError("agent reply out of order: number '" + reply[1] + "' where " + expected +
                         " was due (a handshake replayed?)");
    }
    ++next_sequence_;
    return Message(reply.begin() + 2, reply.end());
}

Message program_request(const std::string& command, const std::string& program,
                        const std::vector<std::string>& args, uint32_t budget_ms, RunAs user) {
    Message request{command, std::to_string(budget_ms), user == RunAs::root ? "root" : "nobody",
                    program};
    request.insert(request.end(), args.begin(), args.end());
    return request;
}

AgentReady parse_ready(const Message& fields) {
    if (fields.size() != 3 || fields[0] != "ready") {
        throw AgentError("agent sent no ready message");
    }
    AgentReady ready{fields[1], number<int>(fields[2], "ready", "CPU count")};
    if (ready.cpus < 1) {
        throw AgentError("malformed ready message: " + fields[2] + " CPUs");
    }
    return ready;
}

RunResult parse_run_reply(const Message& fields) {
    expect_shape(fields, 6, "run");
    RunResult result;
    const std::string& kind = fields[1];
    if (kind != "exited" && kind != "signaled" && kind != "timeout") {
        throw AgentError("malformed reply to run: '" + kind +
                         "' is not exited, signaled or timeout");
    }
    result.timed_out = kind == "timeout";
    result.signaled = kind != "exited";
    result.exit_code = number<uint8_t>(fields[2], "run", result.signaled ? "signal" : "exit status");
    result.stdout_text = fields[3];
    result.stderr_text = fields[4];
    result.icount = number<uint64_t>(fields[5], "run", "instruction count");
    return result;
}

Process parse_spawn_reply(const Message& fields) {
    expect_shape(fields, 4, "spawn");
    Process p{number<int>(fields[1], "spawn", "pid"),
              number<uint64_t>(fields[2], "spawn", "CR3", 16), parse_maps(fields[3])};
    if (p.pid < 1) {
        throw AgentError("malformed reply to spawn: pid " + fields[1]);
    }
    return p;
}

void parse_put_reply(const Message& fields) { expect_shape(fields, 1, "put"); }

}  // namespace faultline

// The conversation with the guest agent (guest-kernel/agent/agent.c):
// the requests the harness puts in the mailbox and what it makes of the
// replies.
//
// The agent is trusted, the programs it runs are not: one running as root
// can reach the mailbox ports and hand the harness a reply of its own, or
// handshake again with the agent's last one still in the outbox. So every
// reply opens with this boot's secret, which only the agent learns (from
// the inbox, before the guest runs), and the next sequence number. A reply
// without them, or with a field that does not parse, is an AgentError, and
// the harness believes nothing from that machine afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "faultline/injection/inject.hpp"
#include "faultline/machine/message.hpp"

namespace faultline {

// Who a program under test runs as: nobody (uid and gid 65534, no groups)
// unless it needs root, e.g. to write sysfs or debugfs. Either way it gets
// none of the agent's I/O port access.
enum class RunAs { nobody, root };

struct RunResult {
    int exit_code = 0;   // exit status, or the signal number when signaled
    bool signaled = false;
    bool timed_out = false;  // outran its budget and was killed (signaled, SIGKILL)
    std::string stdout_text;
    std::string stderr_text;
    uint64_t icount = 0; // guest instructions from fork to reap, all vCPUs
};

// What the agent's first message says.
struct AgentReady {
    std::string kernel_release;
    int cpus = 0;  // online in the guest
};

class AgentSession {
public:
    // A fresh secret from the host kernel's random pool.
    AgentSession();
    explicit AgentSession(std::string secret, uint64_t next_sequence = 0);

    // The message the agent reads before the guest starts: the secret.
    Message greeting() const;
    // The reply's own fields, once its secret and sequence number are the
    // expected ones; throws AgentError otherwise.
    Message accept(const Message& reply);
    // What a saved ready state (boot_cache.hpp) keeps of the session.
    const std::string& secret() const { return secret_; }
    uint64_t next_sequence() const { return next_sequence_; }

private:
    std::string secret_;
    uint64_t next_sequence_ = 0;
};

// "run" or "spawn" of program as user, killed after budget_ms of guest time (0: never).
Message program_request(const std::string& command, const std::string& program,
                        const std::vector<std::string>& args, uint32_t budget_ms, RunAs user);

// Each takes a reply's own fields (after accept()) and throws AgentError
// when they are not what the agent sends.
AgentReady parse_ready(const Message& fields);
RunResult parse_run_reply(const Message& fields);
Process parse_spawn_reply(const Message& fields);
void parse_put_reply(const Message& fields);

}  // namespace faultline

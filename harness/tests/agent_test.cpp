// The agent protocol's checks, on replies written here: what a program in
// the guest could forge, replay or garble.
#include "faultline/machine/agent.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "faultline/machine/errors.hpp"

using namespace faultline;

namespace {

void expect_agent_error(const std::function<void()>& call, const std::string& says) {
    try {
        call();
        ADD_FAILURE() << "no AgentError; expected one saying: " << says;
    } catch (const AgentError& e) {
        EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
}

}  // namespace

TEST(AgentSession, GreetsWithASecretOfItsOwn) {
    Message first = AgentSession().greeting();
    Message second = AgentSession().greeting();
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0], "secret");
    EXPECT_EQ(first[1].size(), 32u);
    EXPECT_NE(first[1], second[1]);
}

TEST(AgentSession, AcceptsTheSecretWithEachNumberInTurn) {
    AgentSession agent("s3cret");
    EXPECT_EQ(agent.accept({"s3cret", "0", "ready", "6.12", "2"}), (Message{"ready", "6.12", "2"}));
    EXPECT_EQ(agent.accept({"s3cret", "1", "ok"}), Message{"ok"});
    EXPECT_EQ(agent.accept({"s3cret", "2"}), Message{});
}

TEST(AgentSession, RefusesAReplyWithoutTheSecret) {
    AgentSession agent("s3cret");
    expect_agent_error([&] { agent.accept({"ok", "exited", "0", "forged\n", "", "1"}); },
                       "without this boot's secret");
    expect_agent_error([&] { agent.accept({"s3cre", "0", "ok"}); }, "without this boot's secret");
    expect_agent_error([&] { agent.accept({}); }, "without this boot's secret");
}

TEST(AgentSession, RefusesAReplayedOrSkippedNumber) {
    AgentSession agent("s3cret");
    agent.accept({"s3cret", "0", "ready", "6.12", "2"});
    expect_agent_error([&] { agent.accept({"s3cret", "0", "ready", "6.12", "2"}); },
                       "out of order: number '0' where 1 was due");
    expect_agent_error([&] { agent.accept({"s3cret", "2", "ok"}); }, "number '2' where 1");
    expect_agent_error([&] { agent.accept({"s3cret", "01", "ok"}); }, "number '01' where 1");
}

TEST(AgentRequest, NamesTheUser) {
    EXPECT_EQ(program_request("run", "/bin/x", {"a", "b"}, 50, RunAs::nobody),
              (Message{"run", "50", "nobody", "/bin/x", "a", "b"}));
    EXPECT_EQ(program_request("spawn", "/bin/x", {}, 0, RunAs::root),
              (Message{"spawn", "0", "root", "/bin/x"}));
}

TEST(AgentReply, ParsesWellFormedReplies) {
    AgentReady ready = parse_ready({"ready", "6.12.95", "2"});
    EXPECT_EQ(ready.kernel_release, "6.12.95");
    EXPECT_EQ(ready.cpus, 2);

    RunResult r = parse_run_reply({"ok", "signaled", "11", "out", "err", "12345678901"});
    EXPECT_TRUE(r.signaled);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 11);
    EXPECT_EQ(r.stdout_text, "out");
    EXPECT_EQ(r.stderr_text, "err");
    EXPECT_EQ(r.icount, 12345678901u);
    r = parse_run_reply({"ok", "timeout", "9", "", "", "1"});
    EXPECT_TRUE(r.signaled && r.timed_out);

    Process p = parse_spawn_reply(
        {"ok", "42", "1a2b000",
         "555555554000-555555555000 r--p 00000000 00:02 12    /tmp/pie\n"
         "555555555000-555555556000 r-xp 00001000 00:02 12    /tmp/pie\n"
         "7ffff7fc5000-7ffff7fc9000 r--p 00000000 00:00 0     [vvar]\n"
         "7ffff7fc9000-7ffff7fcb000 rw-p 00000000 00:00 0 \n"});
    EXPECT_EQ(p.pid, 42);
    EXPECT_EQ(p.cr3, 0x1a2b000u);
    ASSERT_EQ(p.mappings.size(), 2u);
    EXPECT_EQ(p.mappings[1].start, 0x555555555000u);
    EXPECT_EQ(p.mappings[1].end, 0x555555556000u);
    EXPECT_EQ(p.mappings[1].offset, 0x1000u);
    EXPECT_EQ(p.mappings[1].path, "/tmp/pie");
    parse_put_reply({"ok"});
}

TEST(AgentReply, MalformedFieldsAreAgentErrors) {
    expect_agent_error([] { parse_ready({"ready", "6.12", "two"}); }, "CPU count 'two'");
    expect_agent_error([] { parse_ready({"ready", "6.12", "0"}); }, "0 CPUs");
    expect_agent_error([] { parse_ready({"ok"}); }, "no ready message");

    auto run = [](const std::string& kind, const std::string& code, const std::string& icount) {
        parse_run_reply({"ok", kind, code, "", "", icount});
    };
    expect_agent_error([&] { run("exited", "x", "1"); }, "exit status 'x' is not a number");
    expect_agent_error([&] { run("exited", "", "1"); }, "exit status ''");
    expect_agent_error([&] { run("exited", "7 ", "1"); }, "exit status '7 '");
    expect_agent_error([&] { run("exited", "-1", "1"); }, "exit status '-1'");
    expect_agent_error([&] { run("exited", "256", "1"); }, "exit status '256'");
    expect_agent_error([&] { run("signaled", "0x9", "1"); }, "signal '0x9'");
    expect_agent_error([&] { run("exited", "0", "99999999999999999999"); },
                       "instruction count '99999999999999999999' is not a number in range");
    expect_agent_error([&] { run("vanished", "0", "1"); }, "'vanished' is not exited");
    expect_agent_error([] { parse_run_reply({"ok", "exited", "0"}); }, "3 fields starting with 'ok'");
    expect_agent_error([] { parse_run_reply({}); }, "0 fields starting with nothing");
    expect_agent_error([] { parse_run_reply({"fine", "exited", "0", "", "", "1"}); },
                       "starting with 'fine'");

    expect_agent_error([] { parse_spawn_reply({"ok", "pid", "1000", ""}); }, "pid 'pid'");
    expect_agent_error([] { parse_spawn_reply({"ok", "0", "1000", ""}); }, "pid 0");
    expect_agent_error([] { parse_spawn_reply({"ok", "42", "0x1000", ""}); },
                       "CR3 '0x1000' is not a hexadecimal number");
    expect_agent_error([] { parse_spawn_reply({"ok", "42", "1000"}); }, "reply to spawn");
    expect_agent_error([] { parse_spawn_reply({"ok", "42", "1000", "not a maps line\n"}); },
                       "malformed /proc/PID/maps line: not a maps line");
    expect_agent_error([] { parse_put_reply({"ok", "extra"}); }, "reply to put");
}

#include "faultline/campaign/reproducer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

using namespace faultline;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}

class ReproducerFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("faultline-repro-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "from");
        write_file(dir_ / "from" / "qemu", "qemu bytes");
        write_file(dir_ / "from" / "vmlinux", "kernel bytes");
        write_file(dir_ / "from" / "initramfs.cpio", "initramfs bytes");
        write_file(dir_ / "from" / "rseq-buggy", "program bytes");
        write_file(dir_ / "from" / "librseq.so", "library bytes");
    }
    void TearDown() override { fs::remove_all(dir_); }

    // A two-entry finding in a program and a library, every field set.
    Reproducer sample() const {
        MachineConfig config;
        config.qemu = (dir_ / "from" / "qemu").string();
        config.kernel = (dir_ / "from" / "vmlinux").string();
        config.initrd = (dir_ / "from" / "initramfs.cpio").string();
        config.cpus = 2;
        config.memory_mib = 256;
        config.kernel_args = {"pks.mode=relaxed"};
        Reproducer r;
        r.take_machine(config);
        r.finding = "preempt before 0x401838 (xorl %eax, %eax): aborted after the commit";
        r.files = {{"/tmp/rseq-buggy", (dir_ / "from" / "rseq-buggy").string(), "", true},
                   {"/lib/x86_64-linux-gnu/librseq.so", (dir_ / "from" / "librseq.so").string(),
                    "", false}};
        r.args = {"1", "1000"};
        r.baseline_runs = 1;
        r.baseline_budget_ms = 5000;
        r.budget_ms = 40;
        r.schedule = {{"/tmp/rseq-buggy", 0x401838, 1, "preempt", std::nullopt, 0x401b0e},
                      {"/lib/x86_64-linux-gnu/librseq.so", 0x1234, 3, "signal", 10, std::nullopt}};
        r.firings = {{104233611, 1, 0x401838, true, "done"},
                     {104240002, 0, 0x7f0000001234, std::nullopt, "done"}};
        r.outcome = {1, false, false};
        return r;
    }

    // Writes sample(), lets edit change the JSON, and returns the error
    // reading it gives.
    ReproducerError bad(const std::function<void(nlohmann::json&)>& edit) const {
        std::string path = write_reproducer((dir_ / "out").string(), sample());
        auto document = nlohmann::json::parse(read_text(path));
        edit(document);
        write_file(path, document.dump(2));
        try {
            read_reproducer(path);
        } catch (const ReproducerError& e) {
            return e;
        }
        ADD_FAILURE() << "read_reproducer accepted the edited file";
        return ReproducerError(path, "", "");
    }

    fs::path dir_;
};

TEST_F(ReproducerFile, RoundTripsEveryField) {
    Reproducer written = sample();
    std::string path = write_reproducer((dir_ / "out").string(), written);
    Reproducer read = read_reproducer(path);
    // The copies beside the file are what the reader names; the hashes are the originals'.
    ASSERT_EQ(read.files.size(), 2u);
    EXPECT_EQ(read_text(read.files[0].host_path), "program bytes");
    EXPECT_EQ(read_text(read.files[1].host_path), "library bytes");
    EXPECT_EQ(fs::path(read.files[0].host_path).parent_path(), dir_ / "out");
    EXPECT_EQ(read.files[0].sha256, sha256_of_file((dir_ / "from" / "rseq-buggy").string()));
    for (size_t k = 0; k < 2; ++k) {
        written.files[k].host_path = read.files[k].host_path;
        written.files[k].sha256 = read.files[k].sha256;
    }
    EXPECT_EQ(read, written);
    EXPECT_EQ(read.qemu.path, (dir_ / "from" / "qemu").string());
}

TEST_F(ReproducerFile, AKernelTriggerRoundTripsWithWhatItRecorded) {
    Reproducer written = sample();
    written.files.resize(1);
    ReproEntry entry;
    entry.addr = 0xffffffff81035647;
    entry.event = "nmi";
    entry.kernel = true;
    entry.percpu = 0x1bcec;
    written.schedule = {entry};
    ReproFiring firing{89465550, 0, 0xffffffff81035647, std::nullopt, "done"};
    firing.handler_pkrs = 0x55555558;
    firing.return_pkrs = 0x55555554;
    firing.return_percpu = 0x55555554;
    written.firings = {firing};
    std::string path = write_reproducer((dir_ / "out").string(), written);
    auto document = nlohmann::json::parse(read_text(path));
    EXPECT_TRUE(document["schedule"][0]["file"].is_null());
    EXPECT_EQ(document["schedule"][0]["percpu"], "0x1bcec");
    EXPECT_EQ(fs::path(path).filename().string().substr(0, 41),
              "rseq-buggy-nmi-kernel-0xffffffff81035647-");
    Reproducer read = read_reproducer(path);
    written.files[0].host_path = read.files[0].host_path;
    written.files[0].sha256 = read.files[0].sha256;
    EXPECT_EQ(read, written);
    // An event that cannot fire at a kernel instruction is no kernel entry.
    document["schedule"][0]["event"] = "signal";
    document["schedule"][0]["arg"] = 10;
    write_file(path, document.dump(2));
    try {
        read_reproducer(path);
        ADD_FAILURE() << "a signal at a kernel trigger was read";
    } catch (const ReproducerError& e) {
        EXPECT_EQ(e.field(), "schedule[0].event");
    }
}

TEST_F(ReproducerFile, Sha256IsTheStandardDigest) {
    write_file(dir_ / "abc", "abc");
    EXPECT_EQ(sha256_of_file((dir_ / "abc").string()),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(ReproducerFile, NameSaysProgramEventAndPlace) {
    std::string path = write_reproducer((dir_ / "out").string(), sample());
    std::string name = fs::path(path).filename().string();
    EXPECT_EQ(name.substr(0, name.size() - 14), "rseq-buggy-preempt-rseq-buggy-0x401838-and-1");
    EXPECT_EQ(name.substr(name.size() - 5), ".json");
}

TEST_F(ReproducerFile, TwoFindingsShareOneProgramCopy) {
    Reproducer other = sample();
    other.schedule.pop_back();
    other.firings.pop_back();
    std::string first = write_reproducer((dir_ / "out").string(), sample());
    std::string second = write_reproducer((dir_ / "out").string(), other);
    EXPECT_NE(first, second);
    EXPECT_EQ(read_reproducer(first).files[0].host_path, read_reproducer(second).files[0].host_path);
}

TEST_F(ReproducerFile, IdentityDifferencesNameThePart) {
    Reproducer r = sample();
    MachineConfig config;
    config.qemu = (dir_ / "from" / "qemu").string();
    config.kernel = (dir_ / "from" / "vmlinux").string();
    config.initrd = (dir_ / "from" / "initramfs.cpio").string();
    EXPECT_TRUE(r.identity_differences(config).empty());
    write_file(dir_ / "other-vmlinux", "another kernel");
    config.kernel = (dir_ / "other-vmlinux").string();
    auto differences = r.identity_differences(config);
    ASSERT_EQ(differences.size(), 1u);
    EXPECT_EQ(differences[0].substr(0, 8), "kernel: ");
}

TEST_F(ReproducerFile, MachineConfigTakesSizeAndArguments) {
    MachineConfig base;
    base.cpus = 4;
    MachineConfig config = sample().machine_config(base);
    EXPECT_EQ(config.cpus, 2);
    EXPECT_EQ(config.memory_mib, 256);
    EXPECT_EQ(config.kernel_args, std::vector<std::string>{"pks.mode=relaxed"});
}

TEST_F(ReproducerFile, TruncatedFileIsNotJson) {
    std::string path = write_reproducer((dir_ / "out").string(), sample());
    std::string text = read_text(path);
    write_file(path, text.substr(0, text.size() / 2));
    try {
        read_reproducer(path);
        FAIL() << "a truncated file was read";
    } catch (const ReproducerError& e) {
        EXPECT_EQ(e.field(), "");
        EXPECT_NE(std::string(e.what()).find("not complete JSON"), std::string::npos) << e.what();
    }
}

TEST_F(ReproducerFile, EachBadFieldIsNamed) {
    using nlohmann::json;
    struct Case {
        std::string field;
        std::function<void(json&)> edit;
    };
    const std::vector<Case> cases = {
        {"format", [](json& d) { d["format"] = 2; }},
        {"finding", [](json& d) { d.erase("finding"); }},
        {"identities.kernel.sha256", [](json& d) { d["identities"]["kernel"]["sha256"] = "xyz"; }},
        {"identities.qemu", [](json& d) { d["identities"].erase("qemu"); }},
        {"machine.cpus", [](json& d) { d["machine"]["cpus"] = 0; }},
        {"machine.memory_mib", [](json& d) { d["machine"]["memory_mib"] = "256"; }},
        {"machine.kernel_args[0]", [](json& d) { d["machine"]["kernel_args"][0] = 1; }},
        {"program.copy", [](json& d) { d["program"]["copy"] = "gone"; }},
        {"program.copy", [](json& d) { d["program"]["copy"] = "../from/rseq-buggy"; }},
        {"program.args", [](json& d) { d["program"]["args"] = "1 1000"; }},
        {"program.user", [](json& d) { d["program"]["user"] = "admin"; }},
        {"program.put", [](json& d) { d["program"]["put"] = 1; }},
        {"libraries[0].guest_path", [](json& d) { d["libraries"][0].erase("guest_path"); }},
        {"baseline.runs", [](json& d) { d["baseline"]["runs"] = -1; }},
        {"budget_ms", [](json& d) { d["budget_ms"] = 1.5; }},
        {"schedule", [](json& d) { d["schedule"] = json::array(); }},
        {"schedule[0].file", [](json& d) { d["schedule"][0]["file"] = "/bin/other"; }},
        {"schedule[0].addr", [](json& d) { d["schedule"][0]["addr"] = 4200504; }},
        {"schedule[0].addr", [](json& d) { d["schedule"][0]["addr"] = "0x40zz"; }},
        {"schedule[0].hit", [](json& d) { d["schedule"][0]["hit"] = 0; }},
        {"schedule[0].event", [](json& d) { d["schedule"][0]["event"] = "reboot"; }},
        {"schedule[1].arg", [](json& d) { d["schedule"][1]["arg"] = nullptr; }},
        {"schedule[0].watch", [](json& d) { d["schedule"][0]["watch"] = "0x401838"; }},
        {"expected.firings[0].icount", [](json& d) { d["expected"]["firings"][0].erase("icount"); }},
        {"expected.firings[1].vcpu", [](json& d) { d["expected"]["firings"][1]["vcpu"] = 2; }},
        {"expected.firings[0].aborted", [](json& d) { d["expected"]["firings"][0]["aborted"] = 1; }},
        {"expected.firings",
         [](json& d) { d["expected"]["firings"].push_back(d["expected"]["firings"][0]); }},
        {"expected.outcome.signaled", [](json& d) { d["expected"]["outcome"]["signaled"] = "no"; }},
    };
    for (const auto& c : cases) {
        ReproducerError e = bad(c.edit);
        EXPECT_EQ(e.field(), c.field) << e.what();
        EXPECT_NE(std::string(e.what()).find(c.field + ": "), std::string::npos) << e.what();
    }
}

TEST_F(ReproducerFile, ACopyWithOtherContentIsRefused) {
    std::string path = write_reproducer((dir_ / "out").string(), sample());
    Reproducer r = read_reproducer(path);
    write_file(r.files[0].host_path, "a rebuilt program");
    try {
        read_reproducer(path);
        FAIL() << "a changed copy was accepted";
    } catch (const ReproducerError& e) {
        EXPECT_EQ(e.field(), "program.sha256") << e.what();
    }
}

}  // namespace

namespace {

TEST_F(ReproducerFile, UploadsAreKeptWithTheirModeAndAChangedOneIsReportedWhenAsked) {
    Reproducer written = sample();
    write_file(dir_ / "from" / "data.txt", "data bytes");
    written.take_uploads({{(dir_ / "from" / "data.txt").string(), "/tmp/data.txt", 0600}});
    std::string path = write_reproducer((dir_ / "out").string(), written);
    Reproducer read = read_reproducer(path);
    ASSERT_EQ(read.uploads.size(), 1u);
    EXPECT_EQ(read.uploads[0].guest_path, "/tmp/data.txt");
    EXPECT_EQ(read.uploads[0].mode, 0600u);
    EXPECT_EQ(read_text(read.uploads[0].host_path), "data bytes");
    write_file(read.uploads[0].host_path, "changed data");
    EXPECT_THROW(read_reproducer(path), ReproducerError);
    std::vector<std::string> changed;
    read_reproducer(path, &changed);
    ASSERT_EQ(changed.size(), 1u);
    EXPECT_EQ(changed[0], "uploads[0].sha256: " + read.uploads[0].host_path +
                              " has other content than the sha256 recorded");
}

}  // namespace

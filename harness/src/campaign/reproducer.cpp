#include "faultline/campaign/reproducer.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "faultline/campaign/optional_json.hpp"
#include "faultline/campaign/report_text.hpp"

namespace faultline {

namespace fs = std::filesystem;
using nlohmann::json;

ReproducerError::ReproducerError(const std::string& path, const std::string& field,
                                 const std::string& why)
    : ConfigError(path + ": " + (field.empty() ? "" : field + ": ") + why), field_(field) {}

FileIdentity identify(const std::string& path) {
    return {fs::absolute(path).lexically_normal().string(), sha256_of_file(path)};
}

std::string ReproOutcome::text() const {
    if (timed_out) {
        return "was killed at the end of its budget";
    }
    return (signaled ? "was killed by signal " : "exited ") + std::to_string(exit_code);
}

ReproOutcome ReproOutcome::of(const RunResult& run) {
    return {run.exit_code, run.signaled, run.timed_out};
}

void Reproducer::take_machine(const MachineConfig& config) {
    qemu = identify(config.qemu);
    kernel = identify(config.kernel);
    initrd = identify(config.initrd);
    cpus = config.cpus;
    memory_mib = config.memory_mib;
    kernel_args = config.kernel_args;
}

void Reproducer::take_uploads(const std::vector<Upload>& list) {
    for (const auto& u : list) {
        uploads.push_back({u.guest_path, u.host_path, "", true, u.mode});
    }
}

MachineConfig Reproducer::machine_config(MachineConfig base) const {
    base.cpus = cpus;
    base.memory_mib = memory_mib;
    base.kernel_args = kernel_args;
    return base;
}

std::vector<std::string> Reproducer::identity_differences(const MachineConfig& config) const {
    std::vector<std::string> differences;
    auto compare = [&](const char* part, const FileIdentity& recorded, const std::string& path) {
        std::string here = sha256_of_file(path);
        if (here != recorded.sha256) {
            differences.push_back(std::string(part) + ": " + path + " has sha256 " + here +
                                  ", the reproducer's (" + recorded.path + ") " +
                                  recorded.sha256);
        }
    };
    compare("qemu", qemu, config.qemu);
    compare("kernel", kernel, config.kernel);
    compare("initrd", initrd, config.initrd);
    return differences;
}

namespace {

const char* user_name(RunAs user) { return user == RunAs::root ? "root" : "nobody"; }

json identity_json(const FileIdentity& id) { return {{"path", id.path}, {"sha256", id.sha256}}; }

// The copy's name: base name and the start of the content hash.
std::string copy_name(const ReproFile& file) {
    return fs::path(file.guest_path).filename().string() + "-" + file.sha256.substr(0, 12);
}

json to_json(const Reproducer& r, const std::vector<std::string>& copies) {
    json files = json::array();
    for (size_t k = 1; k < r.files.size(); ++k) {
        files.push_back({{"guest_path", r.files[k].guest_path},
                         {"copy", copies[k]},
                         {"sha256", r.files[k].sha256},
                         {"put", r.files[k].put}});
    }
    json uploads = json::array();
    for (size_t k = 0; k < r.uploads.size(); ++k) {
        const ReproFile& u = r.uploads[k];
        uploads.push_back({{"guest_path", u.guest_path},
                           {"copy", copies[r.files.size() + k]},
                           {"sha256", u.sha256},
                           {"mode", u.mode}});
    }
    json schedule = json::array();
    for (const auto& e : r.schedule) {
        json entry{{"file", e.kernel ? json() : json(e.file)},
                   {"addr", hex(e.addr)},
                   {"hit", e.hit},
                   {"event", e.event},
                   {"arg", e.arg ? json(*e.arg) : json()},
                   {"watch", e.watch ? json(hex(*e.watch)) : json()}};
        if (e.kernel) {
            entry["kernel"] = true;
            entry["every_address_space"] = e.every_address_space;
            entry["percpu"] = e.percpu ? json(hex(e.percpu)) : json();
        }
        schedule.push_back(entry);
    }
    json firings = json::array();
    for (size_t k = 0; k < r.firings.size(); ++k) {
        const ReproFiring& f = r.firings[k];
        json firing{{"icount", f.icount},
                    {"vcpu", f.vcpu},
                    {"rip", hex(f.rip)},
                    {"aborted", optional_json(f.aborted)},
                    {"status", f.status}};
        if (r.schedule[k].kernel) {
            firing["handler_pkrs"] = optional_json(f.handler_pkrs);
            firing["return_pkrs"] = optional_json(f.return_pkrs);
            firing["return_percpu"] = optional_json(f.return_percpu);
        }
        firings.push_back(firing);
    }
    const ReproFile& program = r.files.front();
    return {
        {"format", r.format},
        {"finding", r.finding},
        {"identities",
         {{"qemu", identity_json(r.qemu)},
          {"kernel", identity_json(r.kernel)},
          {"initrd", identity_json(r.initrd)}}},
        {"machine",
         {{"cpus", r.cpus}, {"memory_mib", r.memory_mib}, {"kernel_args", r.kernel_args}}},
        {"program",
         {{"guest_path", program.guest_path},
          {"copy", copies.front()},
          {"sha256", program.sha256},
          {"put", program.put},
          {"args", r.args},
          {"user", user_name(r.user)}}},
        {"libraries", files},
        {"uploads", uploads},
        {"baseline", {{"runs", r.baseline_runs}, {"budget_ms", r.baseline_budget_ms}}},
        {"budget_ms", r.budget_ms},
        {"schedule", schedule},
        {"expected",
         {{"firings", firings},
          {"outcome",
           {{"exit_code", r.outcome.exit_code},
            {"signaled", r.outcome.signaled},
            {"timed_out", r.outcome.timed_out}}}}},
    };
}

// The file name: the program, the first entry, how many more, and a hash
// of the schedule so that two findings never share a name.
std::string file_name(const Reproducer& r, const std::string& schedule_json) {
    std::string name = fs::path(r.files.front().guest_path).filename().string();
    if (!r.schedule.empty()) {
        const ReproEntry& first = r.schedule.front();
        name += "-" + first.event + "-" +
                (first.kernel ? std::string("kernel") : fs::path(first.file).filename().string()) +
                "-" + hex(first.addr);
        if (r.schedule.size() > 1) {
            name += "-and-" + std::to_string(r.schedule.size() - 1);
        }
    }
    return name + "-" + sha256_of_bytes(schedule_json).substr(0, 8) + ".json";
}

// Reads one field after another, naming the field in every error.
class Fields {
public:
    Fields(const std::string& path, const json& node, std::string where = "")
        : path_(path), node_(node), where_(std::move(where)) {
        if (!node_.is_object()) {
            fail(where_, "expected an object");
        }
    }

    [[noreturn]] void fail(const std::string& field, const std::string& why) const {
        throw ReproducerError(path_, field, why);
    }
    std::string name(const std::string& key) const {
        return where_.empty() ? key : where_ + "." + key;
    }
    const json& at(const std::string& key) const {
        if (!node_.contains(key)) {
            fail(name(key), "missing");
        }
        return node_.at(key);
    }
    Fields object(const std::string& key) const { return Fields(path_, at(key), name(key)); }

    std::string string(const std::string& key) const {
        const json& v = at(key);
        if (!v.is_string()) {
            fail(name(key), "expected a string, got " + v.dump());
        }
        return v.get<std::string>();
    }
    bool boolean(const std::string& key) const {
        const json& v = at(key);
        if (!v.is_boolean()) {
            fail(name(key), "expected true or false, got " + v.dump());
        }
        return v.get<bool>();
    }
    std::optional<bool> optional_boolean(const std::string& key) const {
        return at(key).is_null() ? std::nullopt : std::optional<bool>(boolean(key));
    }
    // A key that only some entries carry (a kernel trigger's).
    bool has(const std::string& key) const { return node_.contains(key); }
    std::optional<uint32_t> optional_u32(const std::string& key) const {
        if (!has(key) || at(key).is_null()) {
            return std::nullopt;
        }
        return uint32_t(unsigned_number(key, 0, UINT32_MAX));
    }
    uint64_t unsigned_number(const std::string& key, uint64_t low, uint64_t high) const {
        const json& v = at(key);
        if (!v.is_number_unsigned() || v.get<uint64_t>() < low || v.get<uint64_t>() > high) {
            fail(name(key), "expected a whole number from " + std::to_string(low) + " to " +
                                std::to_string(high) + ", got " + v.dump());
        }
        return v.get<uint64_t>();
    }
    int integer(const std::string& key, int low, int high) const {
        const json& v = at(key);
        if (!v.is_number_integer() || v.get<int64_t>() < low || v.get<int64_t>() > high) {
            fail(name(key), "expected a whole number from " + std::to_string(low) + " to " +
                                std::to_string(high) + ", got " + v.dump());
        }
        return int(v.get<int64_t>());
    }
    uint64_t address(const std::string& key) const {
        const json& v = at(key);
        std::string text = v.is_string() ? v.get<std::string>() : "";
        size_t used = 0;
        uint64_t value = 0;
        try {
            if (text.size() > 2 && text.compare(0, 2, "0x") == 0) {
                value = std::stoull(text.substr(2), &used, 16);
                used += 2;
            }
        } catch (const std::logic_error&) {
            used = 0;
        }
        if (used == 0 || used != text.size()) {
            fail(name(key), "expected a hex address such as \"0x401838\", got " + v.dump());
        }
        return value;
    }
    std::optional<uint64_t> optional_address(const std::string& key) const {
        return at(key).is_null() ? std::nullopt : std::optional<uint64_t>(address(key));
    }
    std::vector<std::string> strings(const std::string& key) const {
        const json& v = at(key);
        if (!v.is_array()) {
            fail(name(key), "expected a list of strings, got " + v.dump());
        }
        std::vector<std::string> out;
        for (size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_string()) {
                fail(name(key) + "[" + std::to_string(i) + "]",
                     "expected a string, got " + v[i].dump());
            }
            out.push_back(v[i].get<std::string>());
        }
        return out;
    }
    // Each element of a list as Fields.
    std::vector<Fields> objects(const std::string& key) const {
        const json& v = at(key);
        if (!v.is_array()) {
            fail(name(key), "expected a list, got " + v.dump());
        }
        std::vector<Fields> out;
        for (size_t i = 0; i < v.size(); ++i) {
            out.emplace_back(path_, v[i], name(key) + "[" + std::to_string(i) + "]");
        }
        return out;
    }
    std::string sha256(const std::string& key) const {
        std::string value = string(key);
        if (value.size() != 64 || value.find_first_not_of("0123456789abcdef") != std::string::npos) {
            fail(name(key), "expected 64 lower-case hex digits, got \"" + value + "\"");
        }
        return value;
    }

private:
    std::string path_;
    const json& node_;
    std::string where_;
};

FileIdentity identity_from(const Fields& identities, const std::string& part) {
    Fields f = identities.object(part);
    return {f.string("path"), f.sha256("sha256")};
}

// A file kept beside the reproducer: it must be there, with its recorded
// content (or, with changed, a line there says it is not).
ReproFile file_from(const Fields& f, const fs::path& dir, std::vector<std::string>* changed,
                    bool upload = false) {
    ReproFile file{f.string("guest_path"), "", f.sha256("sha256"),
                   upload || f.boolean("put"),
                   upload ? unsigned(f.unsigned_number("mode", 0, 07777)) : 0644};
    std::string copy = f.string("copy");
    if (copy.empty() || copy.find('/') != std::string::npos) {
        f.fail(f.name("copy"), "expected a file name beside the reproducer, got \"" + copy + "\"");
    }
    file.host_path = (dir / copy).string();
    if (!fs::is_regular_file(file.host_path)) {
        f.fail(f.name("copy"), file.host_path + ": no such file beside the reproducer");
    }
    if (sha256_of_file(file.host_path) != file.sha256) {
        std::string why = file.host_path + " has other content than the sha256 recorded";
        if (!changed) {
            f.fail(f.name("sha256"), why);
        }
        changed->push_back(f.name("sha256") + ": " + why);
    }
    return file;
}

}  // namespace

std::string write_reproducer(const std::string& dir, const Reproducer& reproducer) {
    if (reproducer.files.empty()) {
        throw ConfigError("a reproducer needs the program (files[0])");
    }
    fs::create_directories(dir);
    Reproducer r = reproducer;
    std::vector<std::string> copies;
    std::vector<ReproFile*> all;
    for (auto& file : r.files) {
        all.push_back(&file);
    }
    for (auto& file : r.uploads) {
        all.push_back(&file);
    }
    for (ReproFile* each : all) {
        ReproFile& file = *each;
        file.sha256 = sha256_of_file(file.host_path);
        copies.push_back(copy_name(file));
        fs::path copy = fs::path(dir) / copies.back();
        if (!fs::exists(copy)) {
            fs::copy_file(file.host_path, copy);
        }
    }
    json document = to_json(r, copies);
    fs::path path = fs::path(dir) / file_name(r, document.at("schedule").dump());
    std::ofstream out(path);
    out << document.dump(2) << "\n";
    out.close();
    if (!out) {
        throw Error("cannot write " + path.string());
    }
    return path.string();
}

Reproducer read_reproducer(const std::string& path, std::vector<std::string>* changed) {
    std::ifstream in(path);
    if (!in) {
        throw ReproducerError(path, "", "cannot read it");
    }
    json document;
    try {
        document = json::parse(in);
    } catch (const json::parse_error& e) {
        throw ReproducerError(path, "", std::string("not complete JSON (truncated?): ") + e.what());
    }
    Fields top(path, document);
    Reproducer r;
    r.format = top.integer("format", 0, 1 << 30);
    if (r.format != kReproducerFormat) {
        top.fail("format", "version " + std::to_string(r.format) + ", this faultline reads " +
                               std::to_string(kReproducerFormat));
    }
    r.finding = top.string("finding");
    Fields identities = top.object("identities");
    r.qemu = identity_from(identities, "qemu");
    r.kernel = identity_from(identities, "kernel");
    r.initrd = identity_from(identities, "initrd");

    Fields machine = top.object("machine");
    r.cpus = machine.integer("cpus", 1, 64);
    r.memory_mib = machine.integer("memory_mib", 64, 1 << 20);
    r.kernel_args = machine.strings("kernel_args");

    const fs::path dir = fs::absolute(path).parent_path();
    Fields program = top.object("program");
    r.files.push_back(file_from(program, dir, changed));
    r.args = program.strings("args");
    std::string user = program.string("user");
    if (user != "nobody" && user != "root") {
        program.fail("program.user", "expected \"nobody\" or \"root\", got \"" + user + "\"");
    }
    r.user = user == "root" ? RunAs::root : RunAs::nobody;
    for (const Fields& library : top.objects("libraries")) {
        r.files.push_back(file_from(library, dir, changed));
    }
    // Since uploads came; a reproducer from before has none.
    if (document.contains("uploads")) {
        for (const Fields& upload : top.objects("uploads")) {
            r.uploads.push_back(file_from(upload, dir, changed, true));
        }
    }

    Fields baseline = top.object("baseline");
    r.baseline_runs = uint32_t(baseline.unsigned_number("runs", 0, 1000));
    r.baseline_budget_ms = uint32_t(baseline.unsigned_number("budget_ms", 0, UINT32_MAX));
    r.budget_ms = uint32_t(top.unsigned_number("budget_ms", 0, UINT32_MAX));

    for (const Fields& entry : top.objects("schedule")) {
        ReproEntry e;
        e.kernel = entry.has("kernel") && entry.boolean("kernel");
        if (e.kernel) {
            e.every_address_space = entry.boolean("every_address_space");
            e.percpu = entry.optional_address("percpu").value_or(0);
        } else {
            e.file = entry.string("file");
            bool carried = false;
            for (const auto& file : r.files) {
                carried |= file.guest_path == e.file;
            }
            if (!carried) {
                entry.fail(entry.name("file"), "\"" + e.file + "\" is neither the program nor "
                                               "one of the libraries");
            }
        }
        e.addr = entry.address("addr");
        e.hit = uint32_t(entry.unsigned_number("hit", 1, UINT32_MAX));
        e.event = entry.string("event");
        const EventKind* kind = nullptr;
        try {
            kind = &event_kind_named(e.event);
        } catch (const ConfigError& unknown) {
            entry.fail(entry.name("event"), unknown.what());
        }
        if (!entry.at("arg").is_null()) {
            e.arg = entry.unsigned_number("arg", 0, UINT64_MAX);
        } else if (kind->arg == FAULTLINE_ARG_SIGNAL) {
            entry.fail(entry.name("arg"), "a " + e.event + " event needs a signal number");
        }
        if (!(e.kernel ? kind->fires_at_kernel() : kind->fires_at_user())) {
            entry.fail(entry.name("event"), e.event + " does not fire at a " +
                                                (e.kernel ? "kernel" : "user") + " instruction");
        }
        e.watch = entry.optional_address("watch");
        if (e.watch == e.addr) {
            entry.fail(entry.name("watch"), "the same address as the trigger's");
        }
        r.schedule.push_back(e);
    }
    if (r.schedule.empty()) {
        top.fail("schedule", "no entry: nothing to replay");
    }

    Fields expected = top.object("expected");
    for (const Fields& firing : expected.objects("firings")) {
        r.firings.push_back({firing.unsigned_number("icount", 0, UINT64_MAX),
                             firing.integer("vcpu", 0, r.cpus - 1), firing.address("rip"),
                             firing.optional_boolean("aborted"), firing.string("status"),
                             firing.optional_u32("handler_pkrs"),
                             firing.optional_u32("return_pkrs"),
                             firing.optional_u32("return_percpu")});
    }
    if (r.firings.size() > r.schedule.size()) {
        expected.fail("expected.firings", std::to_string(r.firings.size()) +
                                              " firings for a schedule of " +
                                              std::to_string(r.schedule.size()));
    }
    Fields outcome = expected.object("outcome");
    r.outcome = {outcome.integer("exit_code", 0, 255), outcome.boolean("signaled"),
                 outcome.boolean("timed_out")};
    return r;
}

}  // namespace faultline

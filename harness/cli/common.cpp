// What several subcommands do alike: stop signals, kernel reports, the
// boot line, uploaded programs and report files.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli.hpp"
#include "faultline/machine/errors.hpp"

namespace faultline::cli {

volatile sig_atomic_t stop_signal = 0;

namespace {

extern "C" void note_stop_signal(int signo) { stop_signal = signo; }

}  // namespace

void catch_stop_signals() {
    struct sigaction action {};
    action.sa_handler = note_stop_signal;
    sigemptyset(&action.sa_mask);
    for (int signo : {SIGINT, SIGTERM, SIGHUP}) {
        sigaction(signo, &action, nullptr);
    }
}

void stop_on_signal(Machine& machine) {
    machine.set_interrupt_check([] {
        if (stop_signal) {
            throw Stopped{stop_signal};
        }
    });
}

size_t tell_kernel_reports(const std::vector<std::string>& reports) {
    for (const auto& line : reports) {
        std::cerr << "faultline: kernel report: " << line << "\n";
    }
    return reports.size();
}

BootInfo boot_machine(Machine& machine) {
    BootInfo info = machine.boot();
    if (!info.boot_cache_note.empty()) {
        std::cerr << "faultline: " << info.boot_cache_note << "\n";
    }
    return info;
}

void write_junit(const Options& o, const std::string& suite, const std::vector<JunitCase>& cases) {
    if (!o.junit_file.empty()) {
        write_report(o.junit_file, junit_xml(suite, cases));
    }
}

void describe_boot(std::ostream& out, const BootInfo& info) {
    out << "faultline: guest ready in " << info.ready_s << " s at instruction "
        << info.icount_at_ready << ": Linux " << info.kernel_release << ", " << info.cpus
        << " vCPUs, QEMU " << info.qemu_version << "\n";
}

std::string uploaded_path(const std::string& binary) {
    return "/tmp/" + std::filesystem::path(binary).filename().string();
}

GuestFiles guest_files(const Options& o) {
    GuestFiles files;
    if (o.binary.empty() && o.libraries.empty() && o.files.empty()) {
        return files;
    }
    GuestImage image = GuestImage::of_initrd(o.config.initrd);
    ClosureConfig config;
    config.program = o.binary;
    config.guest_program = o.binary.empty() ? "" : uploaded_path(o.binary);
    config.libraries = o.libraries;
    Closure closure = program_closure(config, image);
    files.uploads = with_data_files(closure.uploads, o.files, image, o.config.memory_mib);
    files.library_guest_paths = closure.library_guest_paths;
    return files;
}

std::vector<Upload> GuestFiles::others(const std::string& program) const {
    std::vector<Upload> out;
    for (const auto& u : uploads) {
        if (u.guest_path != program && std::find(library_guest_paths.begin(),
                                                 library_guest_paths.end(),
                                                 u.guest_path) == library_guest_paths.end()) {
            out.push_back(u);
        }
    }
    return out;
}

void put_guest_files(Machine& machine, const std::vector<Upload>& uploads) {
    for (const auto& u : uploads) {
        machine.put_file(u.host_path, u.guest_path, u.mode);
    }
}

void write_report(const std::string& path, const std::string& text) {
    // Written beside and renamed into place: a report is whole or absent.
    const std::string partial = path + ".partial";
    {
        std::ofstream out(partial);
        out << text;
        out.close();
        if (!out) {
            std::filesystem::remove(partial);
            throw Error("cannot write " + path);
        }
    }
    std::error_code error;
    std::filesystem::rename(partial, path, error);
    if (error) {
        std::filesystem::remove(partial);
        throw Error("cannot write " + path + ": " + error.message());
    }
}

}  // namespace faultline::cli

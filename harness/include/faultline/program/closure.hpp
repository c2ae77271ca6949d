// A program's shared-library closure, and the files it brings to the guest.
//
// A program built on this host runs in the guest when every library it
// needs is where the guest's dynamic loader looks. program_closure() finds
// each DT_NEEDED as glibc's ld.so does on the host (elf/dl-load.c,
// _dl_map_object), breadth first from the program:
//
//   1. a name already loaded (a DT_NEEDED name or DT_SONAME seen before,
//      the interpreter's among them) is that object;
//   2. DT_RPATH of the object that needs it, then of the objects that
//      loaded that one up to the program, only when the needing object has
//      no DT_RUNPATH (nor does the one whose RPATH it is);
//   3. LD_LIBRARY_PATH;
//   4. DT_RUNPATH of the object that needs it (not of its loaders);
//   5. /etc/ld.so.cache, then the default directories, unless the object
//      has DF_1_NODEFLIB.
//
// $ORIGIN (${ORIGIN}) is the needing object's directory, $LIB
// lib/x86_64-linux-gnu, $PLATFORM x86_64. A candidate of another ELF class
// or machine is skipped as ld.so skips it; a truncated or corrupt one stops
// the search (ld.so stops too). Where the guest gets each library:
// found through an RPATH or RUNPATH entry, at that entry with $ORIGIN
// expanded in the guest (the program is /tmp/NAME, so $ORIGIN/../lib is
// /lib), when the guest has that directory; else, and when found any other
// way, in /lib/x86_64-linux-gnu, the directory the guest's loader searches
// by default. A library goes under the name DT_NEEDED asked for, with the
// content of the file it resolved to. What the guest's initramfs already
// holds with the same content (its libc.so.6 and ld.so) is not uploaded;
// a library this host lacks that the initramfs has in a default directory
// of its loader (the selftests' librseq.so) is the guest's.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace faultline {

// A file put in the guest before the program runs.
struct Upload {
    std::string host_path;  // whose content
    std::string guest_path;
    unsigned mode = 0644;
    bool operator==(const Upload&) const = default;
};

// What the guest's initramfs holds: its files with their content, and its
// directories (and /tmp, which the guest agent mounts).
class GuestImage {
public:
    // Reads an uncompressed newc cpio archive (what the build makes); an
    // archive in another format is known to hold only the directories the
    // agent needs, so everything is uploaded.
    static GuestImage of_initrd(const std::string& path);

    bool has_directory(const std::string& dir) const;
    bool has_file(const std::string& path) const;
    // The image has guest_path with the content host_path has.
    bool carries(const std::string& guest_path, const std::string& host_path) const;

private:
    std::string path_;
    std::map<std::string, std::pair<uint64_t, uint64_t>> files_;  // offset and size in path_
    std::set<std::string> dirs_{"/", "/tmp"};
};

// How the host's loader searches; the defaults are this host's.
struct LoaderSearch {
    std::vector<std::string> ld_library_path;  // LD_LIBRARY_PATH's entries
    std::string ld_so_cache = "/etc/ld.so.cache";
    std::vector<std::string> default_dirs{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                                          "/lib", "/usr/lib"};
    // This process's LD_LIBRARY_PATH.
    static LoaderSearch of_host();
};

// Where the guest's loader finds a library without a path of its own.
constexpr const char* kGuestLibraryDir = "/lib/x86_64-linux-gnu";

struct ClosureConfig {
    std::string program;        // on the host; empty: only the libraries
    std::string guest_program;  // where it goes in the guest
    // Libraries given by name (--library): each satisfies a DT_NEEDED of
    // its file name or DT_SONAME, ahead of any search, and is uploaded even
    // when nothing needs it.
    std::vector<std::string> libraries;
    LoaderSearch search = LoaderSearch::of_host();
};

// One object of the closure besides the program.
struct ClosureObject {
    std::string needed;     // the name asked for (DT_NEEDED, PT_INTERP, a given file's)
    std::string needed_by;  // the host path of the first object that asked; empty: given
    std::string host_path;  // the file the name resolved to on the host; empty: the guest's
    std::string found_by;   // "RUNPATH of ...", "ld.so.cache", "--library", ...
    std::string guest_path;
    bool carried = false;   // the guest's initramfs has it: not uploaded
};

struct Closure {
    std::vector<ClosureObject> objects;  // the interpreter first, then breadth first
    // The program first (0755), then each object the guest does not carry,
    // in the order of objects.
    std::vector<Upload> uploads;
    // Where the guest has a given library (ClosureConfig::libraries[k]).
    std::vector<std::string> library_guest_paths;
};

// ConfigError, naming the file, for a program or given library that is not
// an x86_64 ELF file or is truncated or corrupt, a library nobody has
// ("libfoo.so.1, needed by /path/prog, not found (searched: ...)"; a
// candidate of the wrong class or machine is named), and two files that
// would go to one guest path.
Closure program_closure(const ClosureConfig& config, const GuestImage& guest);

// uploads plus the data files, each "HOST" or "HOST:GUEST" (default guest
// path /tmp/BASENAME; the host file's mode). ConfigError for a missing
// file, a guest path that is not absolute or whose directory the guest
// lacks, two files for one guest path, or uploads that do not fit in half
// of memory_mib (the guest's file systems are tmpfs, each at most half of
// its memory).
std::vector<Upload> with_data_files(std::vector<Upload> uploads,
                                    const std::vector<std::string>& files,
                                    const GuestImage& guest, int memory_mib);

}  // namespace faultline

// A program's shared-library closure (closure.hpp): the search of glibc's
// ld.so, the guest's initramfs read as a cpio archive, where each file goes.
#include "faultline/program/closure.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>

#include "faultline/machine/errors.hpp"
#include "faultline/machine/files.hpp"
#include "faultline/program/elf.hpp"

namespace faultline {

namespace fs = std::filesystem;

namespace {

// Empty when unreadable: an absent ld.so.cache has no entries, as for ld.so.
std::string read_whole(const std::string& path) { return file_bytes(path).value_or(""); }

std::string normal(const std::string& path) {
    std::string p = fs::path(path).lexically_normal().string();
    return p.size() > 1 && p.back() == '/' ? p.substr(0, p.size() - 1) : p;
}

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t end; (end = text.find(separator, start)) != std::string::npos; start = end + 1) {
        out.push_back(text.substr(start, end - start));
    }
    out.push_back(text.substr(start));
    return out;
}

// The x86_64 entries of an ld.so.cache in glibc's format since 2.32
// ("glibc-ld.so.cache1.1": a 48-byte header, 24-byte entries whose name and
// path are offsets from the header). Read directly, not by `ldconfig -p`:
// the same answer without a process, for any cache file a test hands it.
// A name with several entries (glibc-hwcaps subdirectories) takes its
// baseline one. An absent or unreadable cache has no entries, as for ld.so.
std::map<std::string, std::string> read_ld_so_cache(const std::string& path) {
    constexpr char kMagic[] = "glibc-ld.so.cache1.1";
    constexpr size_t kHeader = 48, kEntry = 24;
    constexpr int32_t kX8664Libc6 = 0x0303;  // FLAG_ELF_LIBC6 | FLAG_X8664_LIB64
    std::map<std::string, std::string> found;
    std::string bytes = read_whole(path);
    size_t base = bytes.find(kMagic);  // after an old-format part, if any
    if (base == std::string::npos || bytes.size() - base < kHeader) {
        return found;
    }
    auto u32 = [&](size_t at) {
        uint32_t v = 0;
        if (at + 4 <= bytes.size()) {
            std::memcpy(&v, bytes.data() + at, 4);
        }
        return v;
    };
    auto string_at = [&](uint32_t offset) {
        size_t at = base + offset;
        size_t end = at < bytes.size() ? bytes.find('\0', at) : std::string::npos;
        return end == std::string::npos ? std::string() : bytes.substr(at, end - at);
    };
    uint32_t count = u32(base + 20);
    for (uint32_t i = 0; i < count && base + kHeader + (i + 1) * kEntry <= bytes.size(); ++i) {
        size_t entry = base + kHeader + i * kEntry;
        uint64_t hwcap = 0;
        std::memcpy(&hwcap, bytes.data() + entry + 16, 8);
        std::string name = string_at(u32(entry + 4));
        if (int32_t(u32(entry)) != kX8664Libc6 || name.empty() ||
            (found.count(name) && hwcap != 0)) {
            continue;
        }
        if (!found.count(name) || hwcap == 0) {
            found[name] = string_at(u32(entry + 8));
        }
    }
    return found;
}

// An object the search found: the file, and the guest directory that
// holds it (empty: the guest loader's default one).
struct Found {
    std::string host_path;
    std::string guest_dir;
    std::string how;
};

// One loaded object of the closure.
struct Loaded {
    std::string host_path;
    std::string guest_path;
    DynamicInfo info;
    size_t loader;  // the object that needed it first; npos for a root
};

// The search of one DT_NEEDED name, as ld.so does it for `loader`.
class Search {
public:
    Search(const std::vector<Loaded>& loaded, const LoaderSearch& search, const GuestImage& guest)
        : loaded_(loaded), search_(search), cache_(read_ld_so_cache(search.ld_so_cache)),
          guest_(guest) {}

    std::optional<Found> find(const std::string& name, size_t loader) {
        searched_.clear();
        wrong_.clear();
        const Loaded& needer = loaded_[loader];
        if (!needer.info.has_runpath) {
            for (size_t l = loader; l != std::string::npos; l = loaded_[l].loader) {
                const Loaded& object = loaded_[l];
                if (object.info.has_runpath || object.info.rpath.empty()) {
                    continue;
                }
                if (auto f = in_path_list(name, object, object.info.rpath,
                                          "RPATH of " + object.host_path)) {
                    return f;
                }
            }
        }
        for (const auto& dir : search_.ld_library_path) {
            if (auto f = in_dir(name, dir.empty() ? "." : dir, "", "LD_LIBRARY_PATH")) {
                return f;
            }
        }
        if (needer.info.has_runpath) {
            if (auto f = in_path_list(name, needer, needer.info.runpath,
                                      "RUNPATH of " + needer.host_path)) {
                return f;
            }
        }
        if (needer.info.nodeflib) {
            return std::nullopt;
        }
        searched_.push_back(search_.ld_so_cache);
        if (auto cached = cache_.find(name); cached != cache_.end()) {
            if (auto f = candidate(cached->second, "", search_.ld_so_cache)) {
                return f;
            }
        }
        for (const auto& dir : search_.default_dirs) {
            if (auto f = in_dir(name, dir, "", "the default directory " + dir)) {
                return f;
            }
        }
        return std::nullopt;
    }

    // What find() looked at, for the error that nothing was found.
    std::string report() const {
        std::string text = "searched: ";
        for (size_t i = 0; i < searched_.size(); ++i) {
            text += (i ? ", " : "") + searched_[i];
        }
        for (const auto& w : wrong_) {
            text += "; skipped " + w;
        }
        return text;
    }

private:
    // The entries of an RPATH or RUNPATH, each expanded on the host and in
    // the guest for the object it belongs to.
    std::optional<Found> in_path_list(const std::string& name, const Loaded& object,
                                      const std::string& list, const std::string& how) {
        std::string host_origin = fs::path(object.host_path).parent_path().string();
        std::string guest_origin = fs::path(object.guest_path).parent_path().string();
        for (const auto& entry : split(list, ':')) {
            auto host_dir = expand(entry, host_origin);
            auto guest_dir = expand(entry, guest_origin);
            if (!host_dir || !guest_dir) {
                continue;  // ld.so drops an entry with a token it does not know
            }
            // A directory the guest lacks cannot be made there: the guest's
            // loader goes on to its default directory, where it goes instead.
            std::string place = guest_.has_directory(normal(*guest_dir)) ? normal(*guest_dir) : "";
            if (auto f = in_dir(name, host_dir->empty() ? "." : *host_dir, place, how)) {
                return f;
            }
        }
        return std::nullopt;
    }

    static std::optional<std::string> expand(const std::string& entry, const std::string& origin) {
        std::string out;
        for (size_t i = 0; i < entry.size();) {
            if (entry[i] != '$') {
                out += entry[i++];
                continue;
            }
            bool braced = i + 1 < entry.size() && entry[i + 1] == '{';
            size_t start = i + 1 + braced;
            size_t end = start;
            while (end < entry.size() && (std::isalnum(uint8_t(entry[end])) || entry[end] == '_')) {
                ++end;
            }
            std::string token = entry.substr(start, end - start);
            if (braced) {
                if (end >= entry.size() || entry[end] != '}') {
                    return std::nullopt;
                }
                ++end;
            }
            if (token == "ORIGIN") {
                out += origin;
            } else if (token == "LIB") {
                out += "lib/x86_64-linux-gnu";
            } else if (token == "PLATFORM") {
                out += "x86_64";
            } else {
                return std::nullopt;
            }
            i = end;
        }
        return out;
    }

    std::optional<Found> in_dir(const std::string& name, const std::string& dir,
                                const std::string& guest_dir, const std::string& how) {
        searched_.push_back(dir);
        return candidate(dir + "/" + name, guest_dir, how);
    }

    std::optional<Found> candidate(const std::string& path, const std::string& guest_dir,
                                   const std::string& how) {
        struct stat st;
        if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            return std::nullopt;
        }
        if (std::string why = elf_mismatch(path); !why.empty()) {
            wrong_.push_back(path + " (" + why + ")");
            return std::nullopt;
        }
        return Found{normal(path), guest_dir, how};
    }

    const std::vector<Loaded>& loaded_;
    const LoaderSearch& search_;
    const std::map<std::string, std::string> cache_;
    const GuestImage& guest_;
    std::vector<std::string> searched_;
    std::vector<std::string> wrong_;
};

// The program or a given library: an x86_64 ELF file, or an error naming it.
DynamicInfo root_info(const std::string& path, const char* what) {
    if (!fs::is_regular_file(path)) {
        throw ConfigError(std::string(what) + " " + path + ": no such file");
    }
    return dynamic_info(path);
}

// Every guest path once: the same content twice is one upload, other
// content for a path already taken is an error naming both files.
void add_upload(std::vector<Upload>& uploads, const Upload& upload) {
    for (const auto& u : uploads) {
        if (u.guest_path != upload.guest_path) {
            continue;
        }
        if (fs::equivalent(u.host_path, upload.host_path) ||
            read_whole(u.host_path) == read_whole(upload.host_path)) {
            return;
        }
        throw ConfigError(u.host_path + " and " + upload.host_path + " would both be " +
                          upload.guest_path + " in the guest");
    }
    uploads.push_back(upload);
}

}  // namespace

GuestImage GuestImage::of_initrd(const std::string& path) {
    GuestImage image;
    image.path_ = path;
    std::string bytes = read_whole(path);
    auto field = [&](size_t header, int k) {
        return std::strtoull(bytes.substr(header + 6 + 8 * size_t(k), 8).c_str(), nullptr, 16);
    };
    auto align4 = [](size_t n) { return (n + 3) & ~size_t(3); };
    for (size_t at = 0; at + 110 <= bytes.size() && bytes.compare(at, 6, "070701") == 0;) {
        uint64_t mode = field(at, 1), size = field(at, 6), name_size = field(at, 11);
        if (name_size == 0 || at + 110 + name_size > bytes.size()) {
            break;
        }
        std::string name = bytes.substr(at + 110, name_size - 1);
        size_t data = align4(at + 110 + name_size);
        if (name == "TRAILER!!!" || data + size > bytes.size()) {
            break;
        }
        std::string guest = normal("/" + name);
        if (S_ISDIR(mode)) {
            image.dirs_.insert(guest);
        } else if (S_ISREG(mode)) {
            image.files_[guest] = {data, size};
        }
        at = align4(data + size);
    }
    if (image.files_.empty()) {
        // Not an archive this can read: only what the agent itself needs.
        image.dirs_.insert({"/lib", "/lib64", kGuestLibraryDir});
    }
    return image;
}

bool GuestImage::has_directory(const std::string& dir) const { return dirs_.count(normal(dir)); }

bool GuestImage::has_file(const std::string& path) const { return files_.count(normal(path)); }

bool GuestImage::carries(const std::string& guest_path, const std::string& host_path) const {
    auto file = files_.find(normal(guest_path));
    if (file == files_.end() || file->second.second != fs::file_size(host_path)) {
        return false;
    }
    std::ifstream in(path_, std::ios::binary);
    std::string held(file->second.second, '\0');
    in.seekg(std::streamoff(file->second.first));
    in.read(held.data(), std::streamsize(held.size()));
    return in && held == read_whole(host_path);
}

LoaderSearch LoaderSearch::of_host() {
    LoaderSearch search;
    const char* path = std::getenv("LD_LIBRARY_PATH");
    if (path && *path) {
        // ld.so splits it at ':' and ';'.
        std::string list = path;
        std::replace(list.begin(), list.end(), ';', ':');
        search.ld_library_path = split(list, ':');
    }
    return search;
}

Closure program_closure(const ClosureConfig& config, const GuestImage& guest) {
    Closure closure;
    std::vector<Loaded> loaded;
    std::map<std::string, size_t> by_name;  // DT_NEEDED names and sonames loaded
    std::deque<size_t> queue;
    const size_t npos = std::string::npos;
    auto load = [&](ClosureObject object, size_t loader) {
        // Only the guest has it: the guest's image holds what it needs.
        DynamicInfo info = object.host_path.empty() ? DynamicInfo{} : dynamic_info(object.host_path);
        object.carried = object.host_path.empty() || guest.carries(object.guest_path, object.host_path);
        loaded.push_back({object.host_path, object.guest_path, info, loader});
        by_name.emplace(object.needed, loaded.size() - 1);
        if (!info.soname.empty()) {
            by_name.emplace(info.soname, loaded.size() - 1);
        }
        if (!object.carried) {
            add_upload(closure.uploads, {object.host_path, object.guest_path, 0644});
        }
        closure.objects.push_back(std::move(object));
        queue.push_back(loaded.size() - 1);
    };

    if (!config.program.empty()) {
        DynamicInfo info = root_info(config.program, "program");
        // $ORIGIN of the program is where /proc/self/exe points.
        loaded.push_back({fs::canonical(config.program).string(), config.guest_program, info, npos});
        add_upload(closure.uploads, {config.program, config.guest_program, 0755});
        if (!info.interpreter.empty()) {
            // The kernel maps it by its path; ld.so then answers to its soname.
            if (std::string why = fs::is_regular_file(info.interpreter)
                                      ? elf_mismatch(info.interpreter)
                                      : "no such file";
                !why.empty()) {
                throw ConfigError(info.interpreter + ", the interpreter of " + config.program +
                                  ": " + why);
            }
            load({info.interpreter, config.program, normal(info.interpreter), "PT_INTERP",
                  info.interpreter},
                 npos);
            queue.pop_back();  // the loader needs nothing
        }
        queue.push_front(0);
    }
    // A given library is known by its file name and its soname, ahead of
    // any search; where it goes is decided by the first that needs it.
    std::map<std::string, size_t> given;
    for (size_t k = 0; k < config.libraries.size(); ++k) {
        DynamicInfo info = root_info(config.libraries[k], "library");
        given.emplace(fs::path(config.libraries[k]).filename().string(), k);
        if (!info.soname.empty()) {
            given.emplace(info.soname, k);
        }
    }
    closure.library_guest_paths.resize(config.libraries.size());

    Search search(loaded, config.search, guest);
    auto resolve = [&](size_t needer) {
        for (const auto& name : std::vector<std::string>(loaded[needer].info.needed)) {
            if (by_name.count(name)) {
                continue;
            }
            std::optional<Found> found;
            if (name.find('/') != std::string::npos) {
                // A path of its own: the guest gets it there.
                found = fs::is_regular_file(name) ? std::optional<Found>(Found{
                                                        normal(name), "", "its path"})
                                                  : std::nullopt;
            } else {
                found = search.find(name, needer);
            }
            std::string who = loaded[needer].host_path;
            if (auto g = given.find(name); g != given.end()) {
                std::string dir = found ? found->guest_dir : "";
                found = Found{normal(config.libraries[g->second]), dir, "--library"};
            }
            if (!found) {
                // What the guest's loader finds by default in the guest's image.
                for (const auto& dir : LoaderSearch().default_dirs) {
                    if (guest.has_file(dir + "/" + name)) {
                        load({name, who, "", "the guest's initramfs", dir + "/" + name}, needer);
                        break;
                    }
                }
                if (by_name.count(name)) {
                    continue;
                }
                throw ConfigError(name + ", needed by " + who + ", not found (" + search.report() +
                                  ")");
            }
            std::string guest_path =
                name.find('/') != std::string::npos
                    ? normal(fs::absolute(name).string())
                    : (found->guest_dir.empty() ? kGuestLibraryDir : found->guest_dir) + "/" + name;
            load({name, who, found->host_path, found->how, guest_path}, needer);
        }
    };
    auto resolve_queued = [&] {
        while (!queue.empty()) {
            size_t next = queue.front();
            queue.pop_front();
            resolve(next);
        }
    };
    resolve_queued();
    // Given libraries nothing needed go where the guest's loader looks by default.
    for (size_t k = 0; k < config.libraries.size(); ++k) {
        std::string host_path = normal(config.libraries[k]);
        auto known = std::find_if(closure.objects.begin(), closure.objects.end(),
                                  [&](const ClosureObject& o) {
                                      return o.found_by == "--library" && o.host_path == host_path;
                                  });
        if (known == closure.objects.end()) {
            size_t index = closure.objects.size();
            std::string file = fs::path(host_path).filename().string();
            load({file, "", host_path, "--library", std::string(kGuestLibraryDir) + "/" + file},
                 npos);
            resolve_queued();
            known = closure.objects.begin() + long(index);
        }
        closure.library_guest_paths[k] = known->guest_path;
    }
    return closure;
}

std::vector<Upload> with_data_files(std::vector<Upload> uploads,
                                    const std::vector<std::string>& files,
                                    const GuestImage& guest, int memory_mib) {
    for (const auto& spec : files) {
        size_t colon = spec.find(':');
        std::string host = spec.substr(0, colon);
        std::string guest_path = colon == std::string::npos
                                     ? "/tmp/" + fs::path(host).filename().string()
                                     : spec.substr(colon + 1);
        if (!fs::is_regular_file(host)) {
            throw ConfigError("--file " + spec + ": no such file " + host);
        }
        if (!guest_path.starts_with("/")) {
            throw ConfigError("--file " + spec + ": the guest path " + guest_path +
                              " is not absolute");
        }
        std::string dir = fs::path(normal(guest_path)).parent_path().string();
        if (!guest.has_directory(dir)) {
            throw ConfigError("--file " + spec + ": the guest has no directory " + dir);
        }
        auto perms = fs::status(host).permissions();
        add_upload(uploads, {host, normal(guest_path), unsigned(perms) & 0777});
    }
    uint64_t bytes = 0;
    for (const auto& u : uploads) {
        bytes += fs::file_size(u.host_path);
    }
    uint64_t room = uint64_t(memory_mib) << 19;  // half of it: tmpfs's limit
    if (bytes > room) {
        std::string largest = std::max_element(uploads.begin(), uploads.end(),
                                               [](const Upload& a, const Upload& b) {
                                                   return fs::file_size(a.host_path) <
                                                          fs::file_size(b.host_path);
                                               })->host_path;
        throw ConfigError("the files to upload take " + std::to_string(bytes >> 20) +
                          " MiB (the largest " + largest + "), more than the guest's file " +
                          "systems hold: half of its " + std::to_string(memory_mib) +
                          " MiB (--memory)");
    }
    return uploads;
}

}  // namespace faultline

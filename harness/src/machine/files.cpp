#include "faultline/machine/files.hpp"

#include <fstream>
#include <iterator>

namespace faultline {

std::optional<std::string> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace faultline

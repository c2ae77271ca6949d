// The QAPI schema the built QEMU was made from (build/qemu/src), read by the
// tests that hold the harness's kind tables to its enums.
#pragma once

#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

// The values of enum `name` in qapi/misc-target.json, in order; empty when
// the schema or the enum is missing.
inline std::vector<std::string> qapi_enum_values(const std::string& name) {
    std::ifstream schema(std::string(FAULTLINE_BUILD_DIR) + "/qemu/src/qapi/misc-target.json");
    std::string text((std::istreambuf_iterator<char>(schema)), std::istreambuf_iterator<char>());
    size_t from = text.find("'enum': '" + name + "'");
    if (from == std::string::npos) {
        return {};
    }
    size_t open = text.find('[', from), close = text.find(']', open);
    std::vector<std::string> values;
    std::regex quoted("'([^']+)'");
    std::string list = text.substr(open, close - open);
    for (std::sregex_iterator it(list.begin(), list.end(), quoted), end; it != end; ++it) {
        values.push_back((*it)[1]);
    }
    return values;
}

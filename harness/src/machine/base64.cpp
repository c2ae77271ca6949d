#include "faultline/machine/base64.hpp"

#include <array>
#include <cstdint>

#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_reverse() {
    std::array<int8_t, 256> table{};
    table.fill(-1);
    for (size_t i = 0; i < kAlphabet.size(); ++i) {
        table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
    }
    return table;
}

constexpr auto kReverse = make_reverse();

}  // namespace

std::string base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) {
        throw Error("base64: length " + std::to_string(text.size()) + " is not a multiple of 4");
    }
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            char c = text[i + k];
            int8_t d = k >= 4 - pad ? 0 : kReverse[static_cast<uint8_t>(c)];
            if (d < 0) {
                throw Error(std::string("base64: invalid character '") + c + "'");
            }
            v = v << 6 | uint32_t(d);
        }
        out += char(v >> 16);
        if (pad < 2) out += char(v >> 8 & 0xff);
        if (pad < 1) out += char(v & 0xff);
    }
    return out;
}

}  // namespace faultline

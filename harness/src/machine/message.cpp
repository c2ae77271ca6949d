#include "faultline/machine/message.hpp"

#include <cstdint>

#include "faultline/machine/errors.hpp"

namespace faultline {

namespace {

void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        out += char(v >> (8 * i) & 0xff);
    }
}

uint32_t get_u32(std::string_view bytes, size_t& pos) {
    if (bytes.size() - pos < 4) {
        throw AgentError("malformed message: truncated at byte " + std::to_string(pos));
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
        v |= uint32_t(uint8_t(bytes[pos + i])) << (8 * i);
    }
    pos += 4;
    return v;
}

}  // namespace

std::string encode_message(const Message& fields) {
    std::string out;
    put_u32(out, uint32_t(fields.size()));
    for (const auto& field : fields) {
        put_u32(out, uint32_t(field.size()));
        out += field;
    }
    return out;
}

Message decode_message(std::string_view bytes) {
    size_t pos = 0;
    uint32_t count = get_u32(bytes, pos);
    if (count > bytes.size() / 4) {
        throw AgentError("malformed message: " + std::to_string(count) + " fields in " +
                         std::to_string(bytes.size()) + " bytes");
    }
    Message fields;
    fields.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
        uint32_t len = get_u32(bytes, pos);
        if (len > bytes.size() - pos) {
            throw AgentError("malformed message: field " + std::to_string(i) + " overruns");
        }
        fields.emplace_back(bytes.substr(pos, len));
        pos += len;
    }
    if (pos != bytes.size()) {
        throw AgentError("malformed message: " + std::to_string(bytes.size() - pos) +
                         " trailing bytes");
    }
    return fields;
}

}  // namespace faultline

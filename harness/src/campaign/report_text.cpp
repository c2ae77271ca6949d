#include "faultline/campaign/report_text.hpp"

#include <sstream>

namespace faultline {

std::string hex(uint64_t value) {
    std::ostringstream out;
    out << "0x" << std::hex << value;
    return out.str();
}

std::string html_escape(const std::string& text) {
    std::string out;
    for (char ch : text) {
        switch (ch) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '"': out += "&quot;"; break;
        default: out += ch;
        }
    }
    return out;
}

std::string html_page_start(const std::string& title, const std::string& style) {
    return "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
           "</title><style>body{font-family:sans-serif}table{border-collapse:collapse}"
           "td,th{border:1px solid #777;padding:4px 8px}td.i{font-family:monospace}" +
           style + "</style></head><body><h1>" + html_escape(title) + "</h1>";
}

}  // namespace faultline

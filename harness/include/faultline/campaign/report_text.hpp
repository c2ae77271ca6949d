// What the reports write alike: numbers in hex, text inside HTML, and the
// page an HTML report's tables stand in.
#pragma once

#include <cstdint>
#include <string>

namespace faultline {

// "0x401b0e"; zero is "0x0", so every value reads as hex.
std::string hex(uint64_t value);

// The text with <, >, & and " written as entities (a tooltip is an attribute).
std::string html_escape(const std::string& text);

// An HTML report's page up to its body: the title as <title> and <h1>, the
// style every report's tables share, then style for this report's own.
std::string html_page_start(const std::string& title, const std::string& style);
inline constexpr const char* kHtmlPageEnd = "</body></html>\n";

}  // namespace faultline

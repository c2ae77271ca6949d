#include "faultline/campaign/junit.hpp"

#include <algorithm>

namespace faultline {

namespace {

// Text for an attribute or element: markup escaped, and the control
// characters XML 1.0 cannot carry (a guest's output may hold any byte)
// written as U+FFFD.
std::string xml_text(const std::string& text) {
    std::string out;
    for (unsigned char ch : text) {
        switch (ch) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '"': out += "&quot;"; break;
        case '\n': out += "&#10;"; break;
        case '\t': out += ch; break;
        default:
            if (ch < 0x20) {
                out += "\xef\xbf\xbd";
            } else {
                out += char(ch);
            }
        }
    }
    return out;
}

}  // namespace

std::string junit_xml(const std::string& suite, const std::vector<JunitCase>& cases) {
    using V = JunitCase::Verdict;
    auto count = [&](V v) {
        return std::to_string(std::count_if(cases.begin(), cases.end(),
                                            [v](const JunitCase& c) { return c.verdict == v; }));
    };
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
    xml += "  <testsuite name=\"" + xml_text(suite) + "\" tests=\"" +
           std::to_string(cases.size()) + "\" failures=\"" + count(V::failed) +
           "\" errors=\"0\" skipped=\"" + count(V::skipped) + "\">\n";
    for (const auto& c : cases) {
        xml += "    <testcase classname=\"" + xml_text(c.classname) + "\" name=\"" +
               xml_text(c.name) + "\"";
        switch (c.verdict) {
        case V::passed: xml += "/>\n"; continue;
        case V::skipped:
            xml += ">\n      <skipped message=\"" + xml_text(c.message) + "\"/>\n";
            break;
        case V::failed:
            xml += ">\n      <failure message=\"" + xml_text(c.message) + "\">" +
                   xml_text(c.details) + "</failure>\n";
            break;
        }
        xml += "    </testcase>\n";
    }
    return xml + "  </testsuite>\n</testsuites>\n";
}

}  // namespace faultline

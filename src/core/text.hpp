#pragma once
// Private helpers shared by the implementation: number formatting for error messages, trimming,
// and reading a whole text file with an error that names the path.
#include <fstream>
#include <sstream>
#include <string>

#include "ketasim/errors.hpp"

namespace ketasim::detail {

// 12 significant digits: enough to show the offending value exactly as a user typed it.
inline std::string fmt(double v) {
    std::ostringstream os;
    os.precision(12);
    os << v;
    return os.str();
}

// Leading and trailing blanks, tabs and line ends (CRLF files) removed.
inline std::string trim(const std::string& s) {
    const auto a = s.find_first_not_of(" \t\r\n");
    if (a == std::string::npos) return "";
    return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

inline std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open file");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}   // namespace ketasim::detail

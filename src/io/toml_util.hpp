#pragma once
// Private helpers for reading TOML with errors that name the file, key, line, value and rule.
#include <cmath>
#include <set>
#include <cstddef>
#include <string>
#include <toml++/toml.h>

#include "core/text.hpp"
#include "ketasim/errors.hpp"

namespace ketasim::detail {

inline std::string at_line(const std::string& file, const toml::node& n) {
    const auto& src = n.source();
    if (src.begin.line > 0) return file + ":" + std::to_string(src.begin.line);
    return file;
}

// ---- input limits and pre-checks, applied to every TOML text before toml++ sees it ------------
// Model, regimen, PD and library files are a few KB; the largest plausible input (a regimen of
// thousands of [[dose]] entries) is well under 1 MiB.
constexpr std::size_t kMaxTomlBytes = 4u << 20;   // 4 MiB
// toml++ builds one nested table per dotted-key part and per header part, and frees them
// recursively: a 40,000-part dotted key (80 KB) overflowed the stack (issue 9). The library's
// files use at most 3 parts (routes.intranasal.branches); 32 leaves room for anything sensible.
constexpr int kMaxTomlKeyParts = 32;
// Arrays and inline tables nested in one value (toml++ allows 256, each a recursion level).
constexpr int kMaxTomlNesting = 32;

namespace toml_check {

inline bool bare_key_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// Length of the UTF-8 sequence at s[i] (1-4), or 0 if it is not valid UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF are invalid).
inline int utf8_length(const std::string& s, std::size_t i) {
    const auto b = [&](std::size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
    const unsigned c = b(i);
    if (c < 0x80) return 1;
    auto cont = [&](std::size_t k) { return (b(k) & 0xC0u) == 0x80u; };
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        const unsigned c1 = b(i + 1);
        if (!cont(i + 1) || !cont(i + 2)) return 0;
        if (c == 0xE0 && c1 < 0xA0) return 0;    // overlong
        if (c == 0xED && c1 >= 0xA0) return 0;   // UTF-16 surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        const unsigned c1 = b(i + 1);
        if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
        if (c == 0xF0 && c1 < 0x90) return 0;    // overlong
        if (c == 0xF4 && c1 >= 0x90) return 0;   // past U+10FFFF
        return 4;
    }
    return 0;
}

}   // namespace toml_check

// Rejects, with an InputError naming the file, line and column, the inputs that toml++ 3.3.0
// (Debian bookworm) mishandles with undefined behaviour in release builds, and inputs beyond the
// limits above (see docs/design.md, "TOML input hardening"):
//  - invalid UTF-8;
//  - non-ASCII characters outside strings and comments: TOML 1.0 allows none there, and toml++
//    3.3.0 reaches __builtin_unreachable() in is_non_ascii_horizontal_whitespace() for code
//    points U+00A1-U+0499 and others (e.g. a key such as "dosé = 1");
//  - in a multi-line basic string, a line-ending backslash followed by a non-ASCII character
//    (the same function; marzer/tomlplusplus issue 190);
//  - a table header whose '[' or '[[' is not followed by a key ("[\n", "[[[", "[="):
//    parse_key() assumes (TOML_ASSUME) a key character there;
//  - more than kMaxTomlKeyParts parts in one key or header, more than kMaxTomlNesting nested
//    arrays/inline tables, more than kMaxTomlBytes bytes.
// The scan follows TOML's lexical structure (strings, comments, values spanning lines inside
// brackets) just far enough to tell where a header or a key can start; everything else is left
// to toml++, whose messages are kept.
inline void check_toml_text(const std::string& s, const std::string& file) {
    using namespace toml_check;
    if (s.size() > kMaxTomlBytes)
        throw InputError(file + ": " + std::to_string(s.size()) + " bytes is more than the limit of " +
                         std::to_string(kMaxTomlBytes) + " bytes for a TOML input");
    // A UTF-8 byte order mark (some Windows editors write one) is allowed at the start, as in toml++.
    std::size_t i = s.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0, line = 1, line_begin = i;
    auto fail = [&](std::size_t at, const std::string& rule) {
        throw InputError(file + ":" + std::to_string(line) + ":" + std::to_string(at - line_begin + 1) + ": " + rule);
    };
    auto newline = [&](std::size_t at) {
        ++line;
        line_begin = at + 1;
    };
    // Advances over one character inside a string or comment, validating UTF-8.
    auto step_text = [&]() {
        const int len = utf8_length(s, i);
        if (len == 0)
            fail(
                i, "invalid UTF-8 byte 0x" + [&] {
                    static const char* hex = "0123456789ABCDEF";
                    const auto c = static_cast<unsigned char>(s[i]);
                    return std::string{hex[c >> 4], hex[c & 15]};
                }() + " (TOML files must be UTF-8)");
        if (s[i] == '\n') newline(i);
        i += static_cast<std::size_t>(len);
    };
    auto starts = [&](const char* p) { return s.compare(i, std::char_traits<char>::length(p), p) == 0; };
    bool statement_start = true;   // at the start of a line, outside any value
    bool in_value = false;         // after '=' of a key/value line until the value ends
    int depth = 0;                 // [ and { nesting inside a value
    int key_parts = 1;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\n') {
            newline(i);
            ++i;
            if (depth == 0) {
                in_value = false;
                statement_start = true;
                key_parts = 1;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            ++i;
            continue;
        }
        if (c == '#') {
            while (i < s.size() && s[i] != '\n') step_text();
            continue;
        }
        if (c == '"' || c == '\'') {
            statement_start = false;
            const bool basic = c == '"';
            const bool multi = starts(basic ? "\"\"\"" : "\'\'\'");
            i += multi ? 3 : 1;
            while (i < s.size()) {
                if (!multi && s[i] == '\n') break;   // unterminated: toml++ reports it
                if (multi ? starts(basic ? "\"\"\"" : "\'\'\'") : s[i] == static_cast<char>(c)) {
                    i += multi ? 3 : 1;
                    if (multi)   // up to two quotes right before the closing delimiter belong to the string
                        for (int k = 0; k < 2 && i < s.size() && s[i] == static_cast<char>(c); ++k) ++i;
                    break;
                }
                if (basic && s[i] == '\\') {
                    ++i;
                    if (multi) {
                        std::size_t j = i;
                        while (j < s.size() && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r')) ++j;
                        if (j < s.size() && s[j] == '\n') {   // line-ending backslash
                            while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
                                if (s[i] == '\n') newline(i);
                                ++i;
                            }
                            if (i < s.size() && static_cast<unsigned char>(s[i]) >= 0x80)
                                fail(i,
                                     "a line-ending backslash in a multi-line string must not be followed by a "
                                     "non-ASCII character (toml++ 3.3.0 mishandles it); put the character on the "
                                     "backslash's line or escape it as \\uXXXX");
                            continue;
                        }
                    }
                    if (i < s.size()) step_text();
                    continue;
                }
                step_text();
            }
            continue;
        }
        if (c >= 0x80) {
            if (utf8_length(s, i) == 0) step_text();   // throws the UTF-8 error
            fail(i,
                 "non-ASCII character outside a string or comment (TOML keys and values other than strings are "
                 "ASCII; quote the key, e.g. \"name\" = ...)");
        }
        if (statement_start && c == '[') {
            std::size_t j = i + 1;
            if (j < s.size() && s[j] == '[') ++j;
            while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
            if (!(j < s.size() && (bare_key_char(static_cast<unsigned char>(s[j])) || s[j] == '"' || s[j] == '\'')))
                fail(i, "table header needs a key after '" + s.substr(i, j - i) +
                            "' (e.g. [parameters] or [[dose]]); a header must fit on one line");
            statement_start = false;
            i = j;
            continue;
        }
        statement_start = false;
        if (c == '.') {
            if (++key_parts > kMaxTomlKeyParts)
                fail(i, "key has more than " + std::to_string(kMaxTomlKeyParts) + " dotted parts (limit " +
                            std::to_string(kMaxTomlKeyParts) + ")");
        } else if (c == '=' || c == ',') {
            key_parts = 1;
            in_value = in_value || c == '=';
        } else if (in_value && (c == '[' || c == '{')) {
            key_parts = 1;
            if (++depth > kMaxTomlNesting)
                fail(i, "more than " + std::to_string(kMaxTomlNesting) + " nested arrays or inline tables (limit " +
                            std::to_string(kMaxTomlNesting) + ")");
        } else if (in_value && (c == ']' || c == '}')) {
            if (depth > 0) --depth;
        }
        ++i;
    }
}

inline toml::table parse_toml(const std::string& text, const std::string& file) {
    check_toml_text(text, file);
    try {
        return toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        throw InputError(file + ":" + std::to_string(e.source().begin.line) + ":" +
                         std::to_string(e.source().begin.column) +
                         ": TOML syntax error: " + std::string(e.description()));
    }
}

// Rejects keys not in `allowed` (typos would otherwise be silently ignored).
inline void check_keys(const toml::table& t, const std::set<std::string>& allowed, const std::string& file,
                       const std::string& path) {
    for (const auto& kv : t) {
        const std::string k(kv.first.str());
        if (!allowed.count(k)) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            throw InputError(at_line(file, kv.second) + ": " + (path.empty() ? "" : path + ".") + k +
                             ": unknown key (accepted: " + list + ")");
        }
    }
}

inline std::string get_string(const toml::table& t, const std::string& key, const std::string& file,
                              const std::string& path, bool required, const std::string& def = "") {
    const toml::node* n = t.get(key);
    if (!n) {
        if (required) throw InputError(file + ": " + path + "." + key + ": required key is missing");
        return def;
    }
    if (auto s = n->value<std::string>()) return *s;
    throw InputError(at_line(file, *n) + ": " + path + "." + key + ": must be a string");
}

inline double get_number(const toml::table& t, const std::string& key, const std::string& file, const std::string& path,
                         bool required, double def = 0.0) {
    const toml::node* n = t.get(key);
    if (!n) {
        if (required) throw InputError(file + ": " + path + "." + key + ": required key is missing");
        return def;
    }
    if (auto v = n->value<double>()) {
        // TOML spells nan and inf as numbers; no ketasim quantity accepts them (a NaN bound
        // switches a range check off, an infinite exponent zeroes a parameter).
        if (!std::isfinite(*v)) {
            ErrorContext c;
            c.file = file;
            c.line = static_cast<int>(n->source().begin.line);
            c.key = path + "." + key;
            c.value = fmt(*v);
            c.rule = "must be a finite number";
            throw InputError(at_line(file, *n) + ": " + path + "." + key + ": value " + fmt(*v) +
                                 " is not finite (must be a finite number)",
                             c);
        }
        return *v;
    }
    std::string got = "(a table or array)";
    if (auto str = n->value_exact<std::string>())
        got = "'" + *str + "'";
    else if (auto b = n->value_exact<bool>())
        got = *b ? "true" : "false";
    ErrorContext c;
    c.file = file;
    c.line = static_cast<int>(n->source().begin.line);
    c.key = path + "." + key;
    c.value = got;
    c.rule = "must be a number";
    throw InputError(at_line(file, *n) + ": " + path + "." + key + ": value " + got + " must be a number", c);
}

inline bool get_bool(const toml::table& t, const std::string& key, const std::string& file, const std::string& path,
                     bool def) {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (auto v = n->value<bool>()) return *v;
    throw InputError(at_line(file, *n) + ": " + path + "." + key + ": must be true or false");
}

}   // namespace ketasim::detail

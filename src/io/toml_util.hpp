#pragma once
// Private helpers for reading TOML with errors that name the file, key, line, value and rule.
#include <set>
#include <string>
#include <toml++/toml.h>

#include "ketasim/errors.hpp"

namespace ketasim::detail {

inline std::string at_line(const std::string& file, const toml::node& n) {
    const auto& src = n.source();
    if (src.begin.line > 0) return file + ":" + std::to_string(src.begin.line);
    return file;
}

inline toml::table parse_toml(const std::string& text, const std::string& file) {
    try {
        return toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        throw InputError(file + ":" + std::to_string(e.source().begin.line) + ":" +
                         std::to_string(e.source().begin.column) + ": TOML syntax error: " +
                         std::string(e.description()));
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

inline double get_number(const toml::table& t, const std::string& key, const std::string& file,
                         const std::string& path, bool required, double def = 0.0) {
    const toml::node* n = t.get(key);
    if (!n) {
        if (required) throw InputError(file + ": " + path + "." + key + ": required key is missing");
        return def;
    }
    if (auto v = n->value<double>()) return *v;
    std::string got = "(a table or array)";
    if (auto str = n->value_exact<std::string>()) got = "'" + *str + "'";
    else if (auto b = n->value_exact<bool>()) got = *b ? "true" : "false";
    ErrorContext c;
    c.file = file;
    c.line = static_cast<int>(n->source().begin.line);
    c.key = path + "." + key;
    c.value = got;
    c.rule = "must be a number";
    throw InputError(at_line(file, *n) + ": " + path + "." + key + ": value " + got + " must be a number", c);
}

inline bool get_bool(const toml::table& t, const std::string& key, const std::string& file,
                     const std::string& path, bool def) {
    const toml::node* n = t.get(key);
    if (!n) return def;
    if (auto v = n->value<bool>()) return *v;
    throw InputError(at_line(file, *n) + ": " + path + "." + key + ": must be true or false");
}

}  // namespace ketasim::detail

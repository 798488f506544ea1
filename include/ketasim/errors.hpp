#pragma once
// Typed exceptions. InputError is bad input (mapped to Python ValueError); SolverError is a
// numerical failure (mapped to RuntimeError). Messages name the file/field, value and rule.
//
// An InputError may also carry its parts as structured fields (ErrorContext), so code that adds
// context (a file reader naming the CSV line of an event, the CLI naming a flag, Python
// attributes) reads the fields instead of searching the message text. what() is always the
// full, human-readable message.
#include <stdexcept>
#include <string>

namespace ketasim {

struct ErrorContext {
    std::string file;        // path of the input file, "" if none
    int line = 0;            // 1-based line in `file`, 0 if unknown
    std::string key;         // key, column, flag or argument: "dose[0].amount", "AMT", "--dt"
    std::string value;       // the offending value as written
    std::string rule;        // the violated rule: "must be > 0"
    long index = -1;         // index of the offending item (e.g. dose event), -1 if none
    long other_index = -1;   // a second item the rule involves (the other of two overlapping infusions)

    // "file:line: key: value 'v' rule" with absent parts left out.
    std::string message() const;
};

class InputError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
    // what() is ctx.message().
    explicit InputError(const ErrorContext& ctx) : std::invalid_argument(ctx.message()), ctx_(ctx) {}
    // what() is `message`; the fields are kept for callers that add context.
    InputError(const std::string& message, const ErrorContext& ctx) : std::invalid_argument(message), ctx_(ctx) {}
    const ErrorContext& context() const noexcept { return ctx_; }

private:
    ErrorContext ctx_;
};

inline std::string ErrorContext::message() const {
    std::string m;
    if (!file.empty()) m += file + (line > 0 ? ":" + std::to_string(line) : "") + ": ";
    if (!key.empty()) m += key + ": ";
    if (!value.empty()) m += "value '" + value + "' ";
    return m + rule;
}

class SolverError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class IoError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}   // namespace ketasim

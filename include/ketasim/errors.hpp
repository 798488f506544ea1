#pragma once
// Typed exceptions. InputError is bad input (mapped to Python ValueError); SolverError is a
// numerical failure (mapped to RuntimeError). Messages name the file/field, value and rule.
#include <stdexcept>
#include <string>

namespace ketasim {

class InputError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

class SolverError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class IoError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace ketasim

// Column tables (one row per subject) as CSV: units in the header as NAME[unit], full precision,
// every value checked finite-or-NaN (NaN = "not defined", e.g. no threshold crossing) before the
// file is written; written to a unique temporary file and renamed, so no half-written file is left.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <random>
#include <unistd.h>

#include "core/text.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"

namespace ketasim {

void write_table_csv(const std::string& path, const std::vector<std::string>& names,
                     const std::vector<std::string>& units, const std::vector<std::vector<double>>& columns) {
    if (names.size() != columns.size() || units.size() != names.size())
        throw InputError("table: " + std::to_string(names.size()) + " names, " + std::to_string(units.size()) +
                         " units and " + std::to_string(columns.size()) + " columns");
    const std::size_t rows = columns.empty() ? 0 : columns[0].size();
    for (std::size_t c = 0; c < columns.size(); ++c) {
        if (columns[c].size() != rows) throw InputError("table: column '" + names[c] + "' has a different length");
        for (std::size_t r = 0; r < rows; ++r)
            if (std::isinf(columns[c][r]))
                throw SolverError("table: column '" + names[c] + "', row " + std::to_string(r) + ": value " +
                                  detail::fmt(columns[c][r]) + " is not finite; nothing written to " + path);
    }
    std::random_device rd;
    const std::string tmp = path + ".part-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw IoError(path + ": cannot create " + tmp);
        out << std::setprecision(17);
        for (std::size_t c = 0; c < names.size(); ++c)
            out << (c ? "," : "") << names[c] << (units[c].empty() ? "" : "[" + units[c] + "]");
        out << "\n";
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t c = 0; c < columns.size(); ++c) {
                if (c) out << ",";
                const double v = columns[c][r];
                if (std::isnan(v))
                    out << "nan";
                else
                    out << v;
            }
            out << "\n";
        }
        out.flush();
        if (!out) {
            out.close();
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            throw IoError(path + ": write failed (disk full?); nothing written");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw IoError(path + ": cannot rename the finished temporary file into place");
    }
}

}   // namespace ketasim

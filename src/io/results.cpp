// Result files. HDF5 layout (docs/formats.md):
//   / attrs: ketasim_version, created, model_name, model_toml, seed, solver, method, rtol, atol,
//            regimen, command, complete ("yes", written last)
//   /time (T,) float64, units="h"
//   /outputs/<name> (N, T) float64, chunked + gzip, attrs units, analyte
//   /subjects/weight_kg, /subjects/age_years (N,); /subjects/parameters (N, P), attrs names, units
//   /metrics/<output>/<metric> (N,), attr units
// Several arms: the same layout under /arms/<arm>/ (root keeps the run attributes).
#include <H5Cpp.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"

namespace ketasim {

namespace fs = std::filesystem;

namespace {

void check_arms(const std::vector<ResultArm>& arms) {
    if (arms.empty()) throw InputError("results: nothing to write (no arms)");
    std::set<std::string> names;
    for (const auto& a : arms) {
        if (a.subjects.empty()) throw InputError("results: arm '" + a.name + "' has no subjects");
        if (!names.insert(a.name).second) throw InputError("results: arm name '" + a.name + "' is used twice");
        for (const auto& s : a.subjects)
            if (s.time != a.subjects[0].time || s.names != a.subjects[0].names)
                throw InputError("results: arm '" + a.name + "': subjects differ in times or outputs");
        if (!a.subject_info.empty() && a.subject_info.size() != a.subjects.size())
            throw InputError("results: arm '" + a.name + "': subject_info has " +
                             std::to_string(a.subject_info.size()) + " entries for " +
                             std::to_string(a.subjects.size()) + " subjects");
    }
}

std::string now_iso() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::ostringstream os;
    os << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    return os.str();
}

template <class Loc>
void attr_str(Loc& loc, const std::string& name, const std::string& value) {
    H5::StrType st(H5::PredType::C_S1, H5T_VARIABLE);
    H5::Attribute a = loc.createAttribute(name, st, H5::DataSpace(H5S_SCALAR));
    const char* p = value.c_str();
    a.write(st, &p);
}

template <class Loc>
void attr_num(Loc& loc, const std::string& name, double value) {
    H5::Attribute a = loc.createAttribute(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR));
    a.write(H5::PredType::NATIVE_DOUBLE, &value);
}

template <class Loc>
void attr_strs(Loc& loc, const std::string& name, const std::vector<std::string>& values) {
    H5::StrType st(H5::PredType::C_S1, H5T_VARIABLE);
    hsize_t n = values.size();
    H5::Attribute a = loc.createAttribute(name, st, H5::DataSpace(1, &n));
    std::vector<const char*> p;
    for (const auto& v : values) p.push_back(v.c_str());
    if (n > 0) a.write(st, p.data());
}

H5::DataSet write_1d(H5::Group& g, const std::string& name, const std::vector<double>& v, const std::string& units) {
    hsize_t n = v.size();
    H5::DataSpace sp(1, &n);
    H5::DataSet ds = g.createDataSet(name, H5::PredType::NATIVE_DOUBLE, sp);
    if (n > 0) ds.write(v.data(), H5::PredType::NATIVE_DOUBLE);
    attr_str(ds, "units", units);
    return ds;
}

H5::DataSet write_2d(H5::Group& g, const std::string& name, const std::vector<double>& rowmajor, hsize_t rows,
                     hsize_t cols, const std::string& units) {
    hsize_t dims[2] = {rows, cols};
    H5::DataSpace sp(2, dims);
    H5::DSetCreatPropList pl;
    if (rows > 0 && cols > 0) {
        hsize_t chunk[2] = {std::min<hsize_t>(rows, 64), std::min<hsize_t>(cols, 4096)};
        pl.setChunk(2, chunk);
        pl.setDeflate(4);
    }
    H5::DataSet ds = g.createDataSet(name, H5::PredType::NATIVE_DOUBLE, sp, pl);
    if (rows > 0 && cols > 0) ds.write(rowmajor.data(), H5::PredType::NATIVE_DOUBLE);
    if (!units.empty()) attr_str(ds, "units", units);
    return ds;
}

void write_arm(H5::Group& g, const ResultArm& arm) {
    const Trajectory& t0 = arm.subjects[0];
    const hsize_t N = arm.subjects.size(), T = t0.time.size();
    write_1d(g, "time", t0.time, "h");
    H5::Group outs = g.createGroup("outputs");
    std::vector<double> buf(N * T);
    for (std::size_t k = 0; k < t0.names.size(); ++k) {
        for (hsize_t i = 0; i < N; ++i)
            for (hsize_t j = 0; j < T; ++j)
                buf[i * T + j] = arm.subjects[i].values(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(j));
        H5::DataSet ds = write_2d(outs, t0.names[k], buf, N, T, t0.units[k]);
        if (arm.model)
            for (const auto& o : arm.model->outputs)
                if (o.name == t0.names[k]) attr_str(ds, "analyte", o.analyte);
        attr_strs(ds, "dims", {"subject", "time"});
    }
    if (arm.model) {
        attr_str(g, "model_name", arm.model->name);
        attr_str(g, "model_title", arm.model->title);
        attr_str(g, "model_toml", arm.model->source_text);
    }
    attr_str(g, "regimen", arm.regimen_text);
    if (!arm.subject_info.empty() && arm.model) {
        H5::Group sg = g.createGroup("subjects");
        std::vector<double> w, a;
        for (const auto& s : arm.subject_info) {
            w.push_back(s.weight_kg);
            a.push_back(s.age_years);
        }
        write_1d(sg, "weight_kg", w, "kg");
        write_1d(sg, "age_years", a, "year");
        std::vector<std::string> names, units;
        for (const auto& p : arm.model->parameters) {
            names.push_back(p.name);
            units.push_back(p.unit);
        }
        std::vector<double> pv;
        for (const auto& s : arm.subject_info)
            for (const auto& p : arm.model->parameters) {
                auto it = s.parameters.find(p.name);
                pv.push_back(it == s.parameters.end() ? p.value : it->second);
            }
        H5::DataSet ds = write_2d(sg, "parameters", pv, N, names.size(), "");
        attr_strs(ds, "names", names);
        attr_strs(ds, "units", units);
    }
    if (!arm.metrics.empty()) {
        H5::Group mg = g.createGroup("metrics");
        for (std::size_t k = 0; k < t0.names.size(); ++k) {
            const std::string& out = t0.names[k];
            if (!arm.metrics[0].count(out)) continue;
            for (std::size_t i = 0; i < arm.metrics.size(); ++i)
                if (!arm.metrics[i].count(out))
                    throw InputError("results: arm '" + arm.name + "': subject " + std::to_string(i) +
                                     " has no metrics for output '" + out + "'");
            H5::Group og = mg.createGroup(out);
            // One dataset per registry entry (include/ketasim/metrics.hpp), in registry order.
            const auto& reg = metric_registry();
            for (std::size_t q = 0; q < reg.size(); ++q) {
                std::vector<double> v;
                for (const auto& ms : arm.metrics) v.push_back(metric_value(ms.at(out), q));
                write_1d(og, reg[q].name, v, metric_unit(reg[q], t0.units[k]));
            }
            // C at MetricOptions::at_times: (N, K), attr at_times (h).
            const std::size_t n_at = arm.metrics[0].at(out).c_at.size();
            if (n_at > 0) {
                std::vector<double> v;
                for (std::size_t i = 0; i < arm.metrics.size(); ++i) {
                    const auto& c = arm.metrics[i].at(out).c_at;
                    if (c.size() != n_at)
                        throw InputError("results: arm '" + arm.name + "': subject " + std::to_string(i) + " has " +
                                         std::to_string(c.size()) + " c_at values for output '" + out + "', not " +
                                         std::to_string(n_at));
                    v.insert(v.end(), c.begin(), c.end());
                }
                H5::DataSet ds = write_2d(og, "c_at", v, arm.metrics.size(), n_at, t0.units[k]);
                if (arm.at_times.size() == n_at) {
                    hsize_t n = n_at;
                    H5::Attribute a = ds.createAttribute("at_times", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, &n));
                    a.write(H5::PredType::NATIVE_DOUBLE, arm.at_times.data());
                }
                attr_strs(ds, "dims", {"subject", "at_time"});
            }
        }
    }
}

void remove_quietly(const std::string& p) {
    std::error_code ec;
    fs::remove(p, ec);
}

void check_target(const std::string& path) {
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent))
        throw IoError(path + ": cannot write: directory '" + parent.string() + "' does not exist");
}

bool pid_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// The writer's claim on `path`: PATH.lock created with O_EXCL holding our pid, so two runs
// writing the same --out cannot interleave (the second fails clearly); the data goes to a
// temporary PATH.part-<pid>-<random> of its own and is renamed over PATH when complete. Claims
// and temporaries left by a killed run (kill -9) are removed when their pid is dead.
class WriteClaim {
public:
    explicit WriteClaim(const std::string& path) : path_(path), lock_(path + ".lock") {
        clean_stale();
        for (int attempt = 0; attempt < 2; ++attempt) {
            const int fd = ::open(lock_.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
            if (fd >= 0) {
                const std::string pid = std::to_string(::getpid()) + "\n";
                const ssize_t w = ::write(fd, pid.data(), pid.size());
                ::close(fd);
                if (w != static_cast<ssize_t>(pid.size())) {
                    remove_quietly(lock_);
                    throw IoError(path + ": cannot write the lock file " + lock_ + " (disk full?)");
                }
                std::random_device rd;
                tmp_ = path + ".part-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000000u);
                return;
            }
            if (errno != EEXIST) throw IoError(path + ": cannot create " + lock_ + ": " + std::strerror(errno));
            const long owner = read_pid(lock_);
            if (pid_alive(owner))
                throw IoError(path + ": another ketasim run (pid " + std::to_string(owner) +
                              ") is writing this file; wait for it or choose another --out");
            remove_quietly(lock_);   // stale: its writer is gone
        }
        throw IoError(path + ": cannot claim " + lock_ + " (another run keeps creating it)");
    }
    ~WriteClaim() {
        remove_quietly(tmp_);
        remove_quietly(lock_);
    }
    WriteClaim(const WriteClaim&) = delete;
    WriteClaim& operator=(const WriteClaim&) = delete;
    const std::string& tmp() const { return tmp_; }

private:
    static long read_pid(const std::string& file) {
        std::ifstream in(file);
        long pid = 0;
        in >> pid;
        return in ? pid : 0;
    }
    // PATH.part-<pid>-* of dead runs.
    void clean_stale() const {
        const fs::path p(path_);
        const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
        const std::string prefix = p.filename().string() + ".part-";
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (name.compare(0, prefix.size(), prefix) != 0) continue;
            const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
            if (pid > 0 && !pid_alive(pid)) remove_quietly(it->path().string());
        }
    }
    std::string path_, lock_, tmp_;
};

}   // namespace

void write_hdf5(const std::string& path, const std::vector<ResultArm>& arms, const RunInfo& info) {
    check_arms(arms);
    check_target(path);
    const WriteClaim claim(path);
    const std::string& tmp = claim.tmp();
    H5::Exception::dontPrint();
    // HDF5 builds the file in memory (core driver, no backing store); we write the finished image
    // with checked writes. HDF5 then never meets a full disk: a failed H5Dwrite/H5Fclose on a
    // full filesystem used to leave the file half-closed inside the library, and its exit-time
    // cleanup crashed (segfault, exit 139).
    std::vector<char> image;
    try {
        H5::FileAccPropList fapl;
        fapl.setCore(1 << 20, false);
        H5::H5File f(tmp, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, fapl);
        {
            H5::Group root = f.openGroup("/");
            attr_str(root, "ketasim_version", version());
            attr_str(root, "created", now_iso());
            attr_str(root, "command", info.command);
            attr_num(root, "seed", static_cast<double>(info.seed));
            attr_str(root, "solver", to_string(info.options.solver));
            attr_str(root, "method",
                     info.options.solver == SolverKind::ode ? to_string(info.options.method) : "matrix exponential");
            attr_num(root, "rtol", info.options.rtol);
            attr_num(root, "atol", info.options.atol);
            attr_str(root, "time_units", "h");
            attr_str(root, "concentration_units", "ng/mL");
            if (arms.size() == 1) {
                write_arm(root, arms[0]);
            } else {
                H5::Group ag = root.createGroup("arms");
                std::vector<std::string> order;
                for (const auto& a : arms) {
                    H5::Group g = ag.createGroup(a.name);
                    write_arm(g, a);
                    order.push_back(a.name);
                }
                attr_strs(ag, "order", order);
            }
            attr_str(root, "complete", "yes");
        }
        f.flush(H5F_SCOPE_LOCAL);
        const ssize_t n = H5Fget_file_image(f.getId(), nullptr, 0);
        if (n <= 0) throw IoError(path + ": HDF5 write failed: no file image");
        image.resize(static_cast<std::size_t>(n));
        if (H5Fget_file_image(f.getId(), image.data(), image.size()) != n)
            throw IoError(path + ": HDF5 write failed: incomplete file image");
        f.close();
    } catch (const H5::Exception& e) {
        throw IoError(path + ": HDF5 write failed: " + e.getDetailMsg());
    }
    try {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw IoError(path + ": cannot open " + tmp + " for writing");
        out.write(image.data(), static_cast<std::streamsize>(image.size()));
        out.close();
        if (!out) throw IoError(path + ": write failed (disk full?)");
        fs::rename(tmp, path);
    } catch (const fs::filesystem_error& e) {
        throw IoError(path + ": " + e.what());
    }
}

void write_csv(const std::string& path, const std::vector<ResultArm>& arms) {
    check_arms(arms);
    check_target(path);
    std::vector<std::string> cols, units;
    for (const auto& a : arms)
        for (std::size_t k = 0; k < a.subjects[0].names.size(); ++k)
            if (std::find(cols.begin(), cols.end(), a.subjects[0].names[k]) == cols.end()) {
                cols.push_back(a.subjects[0].names[k]);
                units.push_back(a.subjects[0].units[k]);
            }
    const WriteClaim claim(path);
    const std::string& tmp = claim.tmp();
    try {
        std::ofstream out(tmp);
        if (!out) throw IoError(path + ": cannot open for writing");
        out << std::setprecision(10);
        out << "arm,subject,time [h]";
        for (std::size_t k = 0; k < cols.size(); ++k) out << "," << cols[k] << " [" << units[k] << "]";
        out << "\n";
        for (const auto& a : arms) {
            std::vector<int> idx;
            for (const auto& c : cols) {
                int ix = -1;
                for (std::size_t k = 0; k < a.subjects[0].names.size(); ++k)
                    if (a.subjects[0].names[k] == c) ix = static_cast<int>(k);
                idx.push_back(ix);
            }
            for (std::size_t s = 0; s < a.subjects.size(); ++s) {
                const Trajectory& tr = a.subjects[s];
                for (std::size_t j = 0; j < tr.time.size(); ++j) {
                    out << a.name << "," << s << "," << tr.time[j];
                    for (int ix : idx) {
                        out << ",";
                        if (ix >= 0) out << tr.values(ix, static_cast<Eigen::Index>(j));
                    }
                    out << "\n";
                }
            }
        }
        out.close();
        if (!out) throw IoError(path + ": write failed (disk full?)");
        fs::rename(tmp, path);
    } catch (...) {
        remove_quietly(tmp);
        throw;
    }
}

void write_text_atomically(const std::string& path, const std::string& text) {
    check_target(path);
    const std::string tmp = path + ".part";
    try {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw IoError(path + ": cannot open '" + tmp + "' for writing");
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.flush();
        out.close();
        if (!out) throw IoError(path + ": write failed (disk full?)");
        fs::rename(tmp, path);
    } catch (const fs::filesystem_error& e) {
        remove_quietly(tmp);
        throw IoError(path + ": " + e.what());
    } catch (...) {
        remove_quietly(tmp);
        throw;
    }
}

void write_results(const std::string& path, const std::vector<ResultArm>& arms, const RunInfo& info) {
    auto ends = [&](const std::string& s) {
        return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
    };
    if (ends(".h5") || ends(".hdf5")) return write_hdf5(path, arms, info);
    if (ends(".csv")) return write_csv(path, arms);
    throw InputError("--out " + path + ": unknown file type (use .h5, .hdf5 or .csv)");
}

}   // namespace ketasim

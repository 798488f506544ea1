// Streamed run files. Layout (docs/hpc.md, "Result file"), every variable at the root so that
// xarray.open_dataset(path, engine="h5netcdf") shows named dimensions:
//   subject (subject) int64: dimension scale, the global subject index (`point` instead, in
//     design runs: the row dimension is the layout's first column, "subject" or "point")
//   time (time) float64 h: dimension scale (runs that keep trajectories)
//   <column> (subject) float64: covariates, varying parameters, <output>.<metric>
//   <output> (subject, time) float64: trajectories
//   dose (dose) int64 scale; dose_time, dose_amount, dose_per_kg, dose_route, ... (dose)
//   chunk (chunk) int64 scale; chunks_done (chunk) uint8: 1 = the chunk's rows are on disk
//   attrs: layout = "ketasim-run/1", complete (0/1), spec, spec_hash, n_total, index_begin,
//          index_end, chunk, compression, ketasim_version, created, and the run's settings.
// Chunked datasets are deflate-compressed with Fletcher-32 checksums, one HDF5 chunk per run
// chunk (or a divisor of it), so each HDF5 chunk is written exactly once.
//
// Compression in the workers (docs/design.md, "Compressing in the workers"): encode_chunk applies
// the datasets' filter pipeline (Fletcher-32, shuffle, deflate, in chunked_plist's order) itself,
// byte for byte as HDF5 would, and is safe to call from every worker thread at once; the one
// writer only stores the encoded chunks with H5Dwrite_chunk. The file is the same as with
// H5Dwrite (stream_h5_test checks the stored bytes against HDF5's own pipeline).
//
// Crash safety (docs/design.md, "Run files that survive kills"): metadata-cache evictions are
// disabled, so the file's metadata reaches the disk only at H5Fflush; each chunk is written,
// flushed, then marked in chunks_done and flushed again. A resume copies the marked chunks into a
// fresh file (checksums verified) instead of writing into the interrupted one.
#include "io/stream_h5.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <zlib.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"

namespace ketasim::detail {

namespace fs = std::filesystem;

std::string run_file_version_string() { return version(); }

namespace {

constexpr const char* kLayout = "ketasim-run/1";

// Owns an HDF5 id; closes it with the matching function.
class H {
public:
    H() = default;
    H(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
    H(H&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
    H& operator=(H&& o) noexcept {
        reset();
        id_ = o.id_;
        close_ = o.close_;
        o.id_ = -1;
        return *this;
    }
    ~H() { reset(); }
    void reset() {
        if (id_ >= 0 && close_) close_(id_);
        id_ = -1;
    }
    hid_t get() const { return id_; }
    explicit operator bool() const { return id_ >= 0; }

private:
    hid_t id_ = -1;
    herr_t (*close_)(hid_t) = nullptr;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw IoError(path + ": HDF5: " + what + " failed");
}
hid_t ok(hid_t id, const std::string& path, const std::string& what) {
    if (id < 0) fail(path, what);
    return id;
}
void ok(herr_t r, const std::string& path, const std::string& what, int) {
    if (r < 0) fail(path, what);
}

H space1(hsize_t n) { return H(H5Screate_simple(1, &n, nullptr), H5Sclose); }
H str_type() {
    H t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t.get(), H5T_VARIABLE);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
    return t;
}

void attr_text(hid_t loc, const std::string& name, const std::string& v, const std::string& path) {
    H t = str_type();
    H sp(H5Screate(H5S_SCALAR), H5Sclose);
    H a(ok(H5Acreate2(loc, name.c_str(), t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT), path, "attribute " + name),
        H5Aclose);
    const char* p = v.c_str();
    ok(H5Awrite(a.get(), t.get(), &p), path, "attribute " + name, 0);
}
void attr_texts(hid_t loc, const std::string& name, const std::vector<std::string>& v, const std::string& path) {
    H t = str_type();
    H sp = space1(std::max<hsize_t>(v.size(), 1));
    H a(ok(H5Acreate2(loc, name.c_str(), t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT), path, "attribute " + name),
        H5Aclose);
    std::vector<const char*> p;
    for (const auto& s : v) p.push_back(s.c_str());
    if (p.empty()) p.push_back("");
    ok(H5Awrite(a.get(), t.get(), p.data()), path, "attribute " + name, 0);
}
void attr_int(hid_t loc, const std::string& name, std::int64_t v, const std::string& path) {
    H sp(H5Screate(H5S_SCALAR), H5Sclose);
    H a(ok(H5Acreate2(loc, name.c_str(), H5T_STD_I64LE, sp.get(), H5P_DEFAULT, H5P_DEFAULT), path, "attribute " + name),
        H5Aclose);
    ok(H5Awrite(a.get(), H5T_NATIVE_INT64, &v), path, "attribute " + name, 0);
}
void attr_double(hid_t loc, const std::string& name, double v, const std::string& path) {
    H sp(H5Screate(H5S_SCALAR), H5Sclose);
    H a(ok(H5Acreate2(loc, name.c_str(), H5T_IEEE_F64LE, sp.get(), H5P_DEFAULT, H5P_DEFAULT), path,
           "attribute " + name),
        H5Aclose);
    ok(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &v), path, "attribute " + name, 0);
}

std::string read_attr_text(hid_t loc, const std::string& name, const std::string& path) {
    H a(ok(H5Aopen(loc, name.c_str(), H5P_DEFAULT), path, "attribute " + name + " (not a ketasim run file?)"),
        H5Aclose);
    H ft(H5Aget_type(a.get()), H5Tclose);
    if (H5Tget_class(ft.get()) != H5T_STRING) throw IoError(path + ": attribute " + name + " is not a string");
    H t = str_type();
    if (H5Tis_variable_str(ft.get()) > 0) {
        char* p = nullptr;
        ok(H5Aread(a.get(), t.get(), &p), path, "reading attribute " + name, 0);
        std::string s = p ? p : "";
        H5free_memory(p);
        return s;
    }
    const std::size_t n = H5Tget_size(ft.get());
    std::string s(n, '\0');
    ok(H5Aread(a.get(), ft.get(), s.data()), path, "reading attribute " + name, 0);
    s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
    return s;
}
std::vector<std::string> read_attr_texts(hid_t loc, const std::string& name, const std::string& path) {
    H a(ok(H5Aopen(loc, name.c_str(), H5P_DEFAULT), path, "attribute " + name), H5Aclose);
    H sp(H5Aget_space(a.get()), H5Sclose);
    const hssize_t n = H5Sget_simple_extent_npoints(sp.get());
    H t = str_type();
    std::vector<char*> p(static_cast<std::size_t>(std::max<hssize_t>(n, 0)), nullptr);
    ok(H5Aread(a.get(), t.get(), p.data()), path, "reading attribute " + name, 0);
    std::vector<std::string> out;
    for (char* c : p) out.push_back(c ? c : "");
    H5Dvlen_reclaim(t.get(), sp.get(), H5P_DEFAULT, p.data());
    return out;
}
std::int64_t read_attr_int(hid_t loc, const std::string& name, const std::string& path) {
    H a(ok(H5Aopen(loc, name.c_str(), H5P_DEFAULT), path, "attribute " + name + " (not a ketasim run file?)"),
        H5Aclose);
    std::int64_t v = 0;
    ok(H5Aread(a.get(), H5T_NATIVE_INT64, &v), path, "reading attribute " + name, 0);
    return v;
}

// Attributes the writer sets from the layout itself; every other root attribute is a run setting
// copied as is (merge, resume).
const std::set<std::string>& structural_attrs() {
    static const std::set<std::string> s = {"layout",    "complete", "n_total",     "index_begin",
                                            "index_end", "chunk",    "compression", "spec_hash",
                                            "columns",   "outputs",  "created",     "ketasim_version"};
    return s;
}

std::string now_iso() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Rows per HDF5 chunk: the largest divisor of the run chunk whose HDF5 chunk stays <= 4 MiB, so
// every HDF5 chunk lies inside one run chunk and is written once.
hsize_t h5_chunk_rows(std::size_t run_chunk, std::size_t rows, std::size_t row_bytes) {
    const std::size_t c = std::max<std::size_t>(1, std::min(run_chunk, rows));
    const std::size_t cap = std::max<std::size_t>(1, (std::size_t{4} << 20) / std::max<std::size_t>(row_bytes, 1));
    for (std::size_t d = std::min(c, cap); d >= 1; --d)
        if (c % d == 0) return d;
    return 1;
}

H chunked_plist(int rank, const hsize_t* chunk, int compression) {
    H pl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(pl.get(), rank, chunk);
    H5Pset_fletcher32(pl.get());
    if (compression > 0) {
        H5Pset_shuffle(pl.get());
        H5Pset_deflate(pl.get(), static_cast<unsigned>(compression));
    }
    return pl;
}

void disable_evictions(hid_t file, const std::string& path) {
    H5AC_cache_config_t c;
    c.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    ok(H5Fget_mdc_config(file, &c), path, "reading the metadata cache configuration", 0);
    c.evictions_enabled = false;
    c.incr_mode = H5C_incr__off;
    c.flash_incr_mode = H5C_flash_incr__off;
    c.decr_mode = H5C_decr__off;
    ok(H5Fset_mdc_config(file, &c), path, "configuring the metadata cache", 0);
}

// HDF5's Fletcher-32 (H5_checksum_fletcher32): 16-bit big-endian words, sums folded every 360
// words, an odd last byte as the high byte of a word.
std::uint32_t fletcher32(const std::uint8_t* p, std::size_t bytes) {
    std::size_t words = bytes / 2;
    std::uint32_t s1 = 0, s2 = 0;
    while (words > 0) {
        const std::size_t block = std::min<std::size_t>(words, 360);
        words -= block;
        for (std::size_t i = 0; i < block; ++i, p += 2) {
            s1 += (static_cast<std::uint32_t>(p[0]) << 8) | p[1];
            s2 += s1;
        }
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    if (bytes % 2) {
        s1 += static_cast<std::uint32_t>(*p) << 8;
        s2 += s1;
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    s1 = (s1 & 0xffff) + (s1 >> 16);
    s2 = (s2 & 0xffff) + (s2 >> 16);
    return (s2 << 16) | s1;
}

// One HDF5 chunk (`raw`: the chunk's elements as stored, 8-byte little-endian, edge rows zero)
// through chunked_plist's pipeline in HDF5's order: Fletcher-32 appends the checksum (4 bytes,
// little-endian); shuffle groups byte k of every whole 8-byte element, the 4 checksum bytes left
// at the end (HDF5 leaves a buffer of fewer than 2 elements as is); deflate is zlib's compress2
// at the file's level, as HDF5's deflate filter calls it.
std::vector<std::uint8_t> filter_chunk(const std::vector<std::uint8_t>& raw, int level, const std::string& path) {
    const std::uint32_t sum = fletcher32(raw.data(), raw.size());
    std::vector<std::uint8_t> a(raw.size() + 4);
    std::memcpy(a.data(), raw.data(), raw.size());
    for (int i = 0; i < 4; ++i) a[raw.size() + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(sum >> (8 * i));
    if (level <= 0) return a;
    const std::size_t n = a.size() / 8;
    if (n > 1) {
        std::vector<std::uint8_t> sh(a.size());
        std::uint8_t* d = sh.data();
        for (std::size_t b = 0; b < 8; ++b)
            for (std::size_t e = 0; e < n; ++e) *d++ = a[e * 8 + b];
        std::memcpy(d, a.data() + n * 8, a.size() - n * 8);
        a.swap(sh);
    }
    uLongf len = compressBound(static_cast<uLong>(a.size()));
    std::vector<std::uint8_t> z(len);
    if (compress2(z.data(), &len, a.data(), static_cast<uLong>(a.size()), level) != Z_OK)
        throw IoError(path + ": deflate of a chunk failed (out of memory?)");
    z.resize(len);
    return z;
}

void put_le(std::uint8_t* d, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) d[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}   // namespace

struct RunFileReader::Impl {
    std::string path;
    RunFileLayout layout;
    H file;
    bool complete = false;
};

// ---- lock ---------------------------------------------------------------------------------------

RunLock::RunLock(const std::string& path) : lock_path_(path + ".lock") {
    // A holder unlinks the lock file when it finishes; a lock taken on the unlinked file would
    // not exclude the next run, so after locking, the path must still name the locked file.
    for (int attempt = 0;; ++attempt) {
        fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT, 0644);
        if (fd_ < 0) throw IoError(path + ": cannot create the lock file " + lock_path_ + ": " + std::strerror(errno));
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) break;
        struct stat a {
        }, b{};
        if (::fstat(fd_, &a) == 0 && ::stat(lock_path_.c_str(), &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            break;
        ::close(fd_);
        fd_ = -1;
        if (attempt > 100) throw IoError(path + ": cannot take the lock " + lock_path_ + " (it keeps changing)");
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {0};
        const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
        ::close(fd_);
        fd_ = -1;
        const std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("?");
        throw IoError(path + ": another ketasim run (pid " + pid.substr(0, pid.find('\n')) +
                      ") is writing this file; wait for it to finish or choose another output");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        ::close(fd_);
        fd_ = -1;
        throw IoError(path + ": cannot write the lock file " + lock_path_ + " (disk full?)");
    }
}

RunLock::~RunLock() {
    if (fd_ >= 0) {
        ::unlink(lock_path_.c_str());
        ::close(fd_);
    }
}

// ---- writer -------------------------------------------------------------------------------------

struct RunFileWriter::Impl {
    std::string path;
    RunFileLayout layout;
    H file;
    std::vector<H> columns, outputs;
    H done;
    bool in_memory = false;
    // Rows per HDF5 chunk of each chunked dataset (columns, then outputs); fixed once open, read
    // by encode_chunk from any thread.
    std::vector<hsize_t> h5_rows;

    void open_datasets() {
        const hid_t f = file.get();
        for (const auto& c : layout.columns)
            columns.emplace_back(ok(H5Dopen2(f, c.c_str(), H5P_DEFAULT), path, "opening " + c), H5Dclose);
        for (const auto& o : layout.outputs)
            outputs.emplace_back(ok(H5Dopen2(f, o.c_str(), H5P_DEFAULT), path, "opening " + o), H5Dclose);
        done = H(ok(H5Dopen2(f, "chunks_done", H5P_DEFAULT), path, "opening chunks_done"), H5Dclose);
        h5_rows.clear();
        for (const auto* set : {&columns, &outputs})
            for (const H& ds : *set) h5_rows.push_back(check_pipeline(ds.get(), set == &outputs ? 2 : 1));
    }
    // The dataset's chunk rows, after checking that its filters are the ones encode_chunk applies
    // (chunked_plist's), so that a chunk written directly decodes as HDF5 expects.
    hsize_t check_pipeline(hid_t ds, int rank) const {
        H pl(H5Dget_create_plist(ds), H5Pclose);
        hsize_t dims[2] = {0, 0};
        if (H5Pget_chunk(pl.get(), 2, dims) != rank) throw IoError(path + ": a dataset is not chunked as expected");
        std::vector<H5Z_filter_t> want = {H5Z_FILTER_FLETCHER32};
        if (layout.compression > 0) {
            want.push_back(H5Z_FILTER_SHUFFLE);
            want.push_back(H5Z_FILTER_DEFLATE);
        }
        bool same = H5Pget_nfilters(pl.get()) == static_cast<int>(want.size());
        for (unsigned i = 0; same && i < want.size(); ++i) {
            unsigned flags = 0, cd[4] = {0, 0, 0, 0};
            std::size_t ncd = 4;
            const H5Z_filter_t id = H5Pget_filter2(pl.get(), i, &flags, &ncd, cd, 0, nullptr, nullptr);
            same = id == want[i] &&
                   (id != H5Z_FILTER_DEFLATE || (ncd >= 1 && cd[0] == static_cast<unsigned>(layout.compression)));
        }
        if (!same)
            throw IoError(path + ": the datasets' filters are not ketasim's (Fletcher-32, shuffle, deflate at level " +
                          std::to_string(layout.compression) + ")");
        if (rank == 2 && dims[1] != layout.time.size())
            throw IoError(path + ": a trajectory's chunks are not whole rows");
        return dims[0];
    }
    void flush() { ok(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), path, "flush", 0); }
    // The rows of chunk k are flushed before the chunk is recorded as done (then flushed again).
    bool barriers = true;
    void mark_done(std::size_t k) {
        if (barriers) flush();
        const hsize_t kk = k, one = 1;
        H fs(H5Dget_space(done.get()), H5Sclose);
        ok(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &kk, nullptr, &one, nullptr), path, "selecting chunks_done",
           0);
        H ms = space1(1);
        const std::uint8_t yes = 1;
        ok(H5Dwrite(done.get(), H5T_NATIVE_UINT8, ms.get(), fs.get(), H5P_DEFAULT, &yes), path, "writing chunks_done",
           0);
        if (barriers) flush();
    }
};

RunFileWriter::RunFileWriter(const std::string& path, const RunFileLayout& L, bool in_memory)
    : impl_(std::make_unique<Impl>()) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    Impl& m = *impl_;
    m.path = path;
    m.layout = L;
    m.in_memory = in_memory;
    if (L.columns.empty() || (L.columns[0] != "subject" && L.columns[0] != "point"))
        throw InputError(path + ": run file layout: first column must be 'subject' or 'point'");
    const std::string& row = L.columns[0];
    if (L.column_units.size() != L.columns.size() || L.output_units.size() != L.outputs.size())
        throw InputError(path + ": run file layout: units do not match the names");
    if (L.rows() == 0 || L.chunk == 0) throw InputError(path + ": run file layout: no rows");
    {
        std::set<std::string> seen = {"time", "dose", "chunk", "chunks_done"};
        for (const auto& c : L.columns)
            if (c != row && !seen.insert(c).second)
                throw InputError(path + ": run file: name '" + c + "' is used twice");
        for (const auto& c : L.outputs)
            if (!seen.insert(c).second)
                throw InputError(path + ": run file: output '" + c + "' clashes with another name");
    }
    H fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (in_memory) H5Pset_fapl_core(fapl.get(), 1 << 20, 0);
    m.file = H(ok(H5Fcreate(path.c_str(), in_memory ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()), path,
                  "creating the file (does it exist already?)"),
               H5Fclose);
    const hid_t f = m.file.get();
    disable_evictions(f, path);
    const hsize_t N = L.rows(), T = L.time.size(), D = L.dose_time.size(), K = L.n_chunks();

    attr_text(f, "layout", kLayout, path);
    attr_int(f, "complete", 0, path);
    attr_text(f, "ketasim_version", run_file_version_string(), path);
    attr_text(f, "created", now_iso(), path);
    attr_int(f, "n_total", static_cast<std::int64_t>(L.n_total), path);
    attr_int(f, "index_begin", static_cast<std::int64_t>(L.begin), path);
    attr_int(f, "index_end", static_cast<std::int64_t>(L.end), path);
    attr_int(f, "chunk", static_cast<std::int64_t>(L.chunk), path);
    attr_int(f, "compression", L.compression, path);
    attr_text(f, "spec_hash", L.spec_hash, path);
    attr_texts(f, "columns", L.columns, path);
    attr_texts(f, "outputs", L.outputs, path);
    for (const auto& a : L.text_attrs) attr_text(f, a.first, a.second, path);
    for (const auto& a : L.int_attrs) attr_int(f, a.first, a.second, path);
    for (const auto& a : L.number_attrs) attr_double(f, a.first, a.second, path);

    auto contiguous = [&](const std::string& name, hid_t ftype, hid_t mtype, hsize_t n, const void* data) {
        H sp = space1(n);
        H ds(ok(H5Dcreate2(f, name.c_str(), ftype, sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
                "creating " + name),
             H5Dclose);
        if (data && n > 0)
            ok(H5Dwrite(ds.get(), mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path, "writing " + name, 0);
        return ds;
    };
    auto units = [&](const H& ds, const std::string& u) {
        if (!u.empty()) attr_text(ds.get(), "units", u, path);
    };

    // Dimension scales.
    const hsize_t crow = h5_chunk_rows(L.chunk, L.rows(), 8);
    H pl1 = chunked_plist(1, &crow, L.compression);
    H sp_n = space1(N);
    H subject(ok(H5Dcreate2(f, row.c_str(), H5T_STD_I64LE, sp_n.get(), H5P_DEFAULT, pl1.get(), H5P_DEFAULT), path,
                 "creating " + row),
              H5Dclose);
    ok(H5DSset_scale(subject.get(), row.c_str()), path, "dimension scale " + row, 0);
    attr_text(subject.get(), "long_name", row == "point" ? "design point index in the run" : "subject index in the run",
              path);
    H time;
    if (T > 0) {
        time = contiguous("time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, T, L.time.data());
        units(time, "h");
        ok(H5DSset_scale(time.get(), "time"), path, "dimension scale time", 0);
    }
    for (std::size_t c = 1; c < L.columns.size(); ++c) {
        H ds(ok(H5Dcreate2(f, L.columns[c].c_str(), H5T_IEEE_F64LE, sp_n.get(), H5P_DEFAULT, pl1.get(), H5P_DEFAULT),
                path, "creating " + L.columns[c]),
             H5Dclose);
        units(ds, L.column_units[c]);
        ok(H5DSattach_scale(ds.get(), subject.get(), 0), path, "attaching subject to " + L.columns[c], 0);
    }
    if (!L.outputs.empty()) {
        const hsize_t dims[2] = {N, T};
        const hsize_t chunk[2] = {h5_chunk_rows(L.chunk, L.rows(), static_cast<std::size_t>(T) * 8), T};
        H pl2 = chunked_plist(2, chunk, L.compression);
        H sp2(H5Screate_simple(2, dims, nullptr), H5Sclose);
        for (std::size_t o = 0; o < L.outputs.size(); ++o) {
            H ds(ok(H5Dcreate2(f, L.outputs[o].c_str(), H5T_IEEE_F64LE, sp2.get(), H5P_DEFAULT, pl2.get(), H5P_DEFAULT),
                    path, "creating " + L.outputs[o]),
                 H5Dclose);
            units(ds, L.output_units[o]);
            ok(H5DSattach_scale(ds.get(), subject.get(), 0), path, "attaching subject", 0);
            ok(H5DSattach_scale(ds.get(), time.get(), 1), path, "attaching time", 0);
        }
    }
    if (D > 0) {
        std::vector<std::int64_t> idx(D);
        for (hsize_t i = 0; i < D; ++i) idx[i] = static_cast<std::int64_t>(i);
        H dose = contiguous("dose", H5T_STD_I64LE, H5T_NATIVE_INT64, D, idx.data());
        ok(H5DSset_scale(dose.get(), "dose"), path, "dimension scale dose", 0);
        auto attach = [&](H ds, const std::string& u) {
            units(ds, u);
            ok(H5DSattach_scale(ds.get(), dose.get(), 0), path, "attaching dose", 0);
        };
        attach(contiguous("dose_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, D, L.dose_time.data()), "h");
        attach(contiguous("dose_amount", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, D, L.dose_amount.data()), "");
        attach(contiguous("dose_per_kg", H5T_STD_I64LE, H5T_NATIVE_INT64, D, L.dose_per_kg.data()), "");
        attach(contiguous("dose_duration", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, D, L.dose_duration.data()), "h");
        attach(contiguous("dose_interval", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, D, L.dose_interval.data()), "h");
        attach(contiguous("dose_steady_state", H5T_STD_I64LE, H5T_NATIVE_INT64, D, L.dose_steady_state.data()), "");
        attach(contiguous("dose_device", H5T_STD_I64LE, H5T_NATIVE_INT64, D, L.dose_device.data()), "");
        H st = str_type();
        std::vector<const char*> routes;
        for (const auto& r : L.dose_route) routes.push_back(r.c_str());
        attach(contiguous("dose_route", st.get(), st.get(), D, routes.data()), "");
        H a(H5Dopen2(f, "dose_amount", H5P_DEFAULT), H5Dclose);
        attr_text(a.get(), "long_name", "dose amount: mg, or mg/kg where dose_per_kg = 1", path);
    }
    {
        std::vector<std::int64_t> idx(K);
        for (hsize_t i = 0; i < K; ++i) idx[i] = static_cast<std::int64_t>(i);
        H chunk = contiguous("chunk", H5T_STD_I64LE, H5T_NATIVE_INT64, K, idx.data());
        ok(H5DSset_scale(chunk.get(), "chunk"), path, "dimension scale chunk", 0);
        std::vector<std::uint8_t> zeros(K, 0);
        H done = contiguous("chunks_done", H5T_STD_U8LE, H5T_NATIVE_UINT8, K, zeros.data());
        attr_text(done.get(), "long_name", "1 = the rows of this chunk are written (rows index_begin + chunk * k ...)",
                  path);
        ok(H5DSattach_scale(done.get(), chunk.get(), 0), path, "attaching chunk", 0);
    }
    subject.reset();
    time.reset();
    m.open_datasets();
    m.flush();
}

RunFileWriter::RunFileWriter(const std::string& path) : impl_(std::make_unique<Impl>()) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    {
        RunFileReader r(path);
        impl_->layout = r.layout();
    }
    Impl& m = *impl_;
    m.path = path;
    m.file = H(ok(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), path, "opening for writing"), H5Fclose);
    disable_evictions(m.file.get(), path);
    m.open_datasets();
}

RunFileWriter::~RunFileWriter() {
    try {
        close();
    } catch (...) {
        // A destructor must not throw; write_chunk and mark_complete already report failures.
    }
}

void RunFileWriter::close() {
    if (!impl_ || !impl_->file) return;
    impl_->columns.clear();
    impl_->outputs.clear();
    impl_->done.reset();
    H5Fflush(impl_->file.get(), H5F_SCOPE_GLOBAL);
    impl_->file.reset();
}

const RunFileLayout& RunFileWriter::layout() const { return impl_->layout; }

std::vector<std::uint8_t> RunFileWriter::chunks_done() const {
    std::vector<std::uint8_t> d(impl_->layout.n_chunks());
    if (!d.empty())
        ok(H5Dread(impl_->done.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.data()), impl_->path,
           "reading chunks_done", 0);
    return d;
}

void RunFileWriter::write_chunk(std::size_t k, const RowBlock& b) { write_encoded(encode_chunk(k, b)); }

EncodedChunk RunFileWriter::encode_chunk(std::size_t k, const RowBlock& b) const {
    const Impl& m = *impl_;
    const RunFileLayout& L = m.layout;
    if (k >= L.n_chunks() || b.begin != L.chunk_begin(k) || b.end != L.chunk_end(k))
        throw InputError(m.path + ": rows [" + std::to_string(b.begin) + ", " + std::to_string(b.end) +
                         ") are not chunk " + std::to_string(k) + " of the file");
    const std::size_t n = b.end - b.begin, T = L.time.size();
    if (b.columns.size() != L.columns.size() || b.outputs.size() != L.outputs.size())
        throw InputError(m.path + ": chunk " + std::to_string(k) + ": wrong number of columns or outputs");
    for (std::size_t c = 0; c < b.columns.size(); ++c) {
        if (b.columns[c].size() != n) throw InputError(m.path + ": column " + L.columns[c] + ": wrong length");
        for (std::size_t r = 0; r < n; ++r)
            if (std::isinf(b.columns[c][r]))
                throw SolverError(m.path + ": " + L.columns[0] + " " + std::to_string(b.begin + r) + ": " +
                                  L.columns[c] + " = " + std::to_string(b.columns[c][r]) +
                                  " is not finite; nothing of this chunk is written");
    }
    for (std::size_t o = 0; o < b.outputs.size(); ++o) {
        if (b.outputs[o].size() != n * T) throw InputError(m.path + ": output " + L.outputs[o] + ": wrong size");
        for (std::size_t i = 0; i < b.outputs[o].size(); ++i)
            if (!std::isfinite(b.outputs[o][i]))
                throw SolverError(m.path + ": " + L.columns[0] + " " + std::to_string(b.begin + i / T) + ": " +
                                  L.outputs[o] + " at " + std::to_string(L.time[i % T]) +
                                  " h is not finite; nothing of this chunk is written");
    }
    EncodedChunk e;
    e.k = k;
    // Dataset i's values of row r: `width` values (1 for a column, T for a trajectory), stored as
    // little-endian int64 (the row-index column) or float64.
    auto encode = [&](std::size_t i, const double* v, std::size_t width, bool as_int) {
        const std::size_t d = m.h5_rows[i];
        std::vector<std::vector<std::uint8_t>> out;
        std::vector<std::uint8_t> raw;
        for (std::size_t r0 = 0; r0 < n; r0 += d) {
            raw.assign(d * width * 8, 0);   // rows past the dataset's end: HDF5's default fill, 0
            const std::size_t rows = std::min(d, n - r0);
            for (std::size_t j = 0; j < rows * width; ++j) {
                const double x = v[r0 * width + j];
                std::uint64_t u = 0;
                if (as_int) {
                    const auto iv = static_cast<std::int64_t>(x);
                    std::memcpy(&u, &iv, 8);
                } else {
                    std::memcpy(&u, &x, 8);
                }
                put_le(raw.data() + j * 8, u);
            }
            out.push_back(filter_chunk(raw, L.compression, m.path));
        }
        e.data.push_back(std::move(out));
    };
    for (std::size_t c = 0; c < L.columns.size(); ++c) encode(c, b.columns[c].data(), 1, c == 0);
    for (std::size_t o = 0; o < L.outputs.size(); ++o) encode(L.columns.size() + o, b.outputs[o].data(), T, false);
    return e;
}

void RunFileWriter::write_encoded(const EncodedChunk& e) {
    Impl& m = *impl_;
    const RunFileLayout& L = m.layout;
    const std::size_t nc = L.columns.size();
    if (e.k >= L.n_chunks() || e.data.size() != nc + L.outputs.size())
        throw InputError(m.path + ": not an encoded chunk of this file");
    const hsize_t off = L.chunk_begin(e.k) - L.begin;
    for (std::size_t i = 0; i < e.data.size(); ++i) {
        const hid_t ds = i < nc ? m.columns[i].get() : m.outputs[i - nc].get();
        const std::string& name = i < nc ? L.columns[i] : L.outputs[i - nc];
        for (std::size_t j = 0; j < e.data[i].size(); ++j) {
            const hsize_t at[2] = {off + j * m.h5_rows[i], 0};
            const auto& bytes = e.data[i][j];
            ok(H5Dwrite_chunk(ds, H5P_DEFAULT, 0, at, bytes.size(), bytes.data()), m.path, "writing " + name, 0);
        }
    }
    m.mark_done(e.k);
}

bool RunFileWriter::copy_chunk_raw(std::size_t k, const RunFileReader& src) {
    Impl& m = *impl_;
    const RunFileLayout& L = m.layout;
    const RunFileLayout& S = src.impl_->layout;
    const std::size_t cb = L.chunk_begin(k), ce = L.chunk_end(k);
    if (cb < S.begin || ce > S.end || S.columns != L.columns || S.outputs != L.outputs ||
        S.time.size() != L.time.size() || S.compression != L.compression)
        return false;
    const hid_t sf = src.impl_->file.get();
    std::vector<std::string> names(L.columns);
    names.insert(names.end(), L.outputs.begin(), L.outputs.end());
    struct Copy {
        H from;
        hid_t to;
        hsize_t rows;   // rows per HDF5 chunk
        int rank;
    };
    std::vector<Copy> plan;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const hid_t to = i < L.columns.size() ? m.columns[i].get() : m.outputs[i - L.columns.size()].get();
        H from(H5Dopen2(sf, names[i].c_str(), H5P_DEFAULT), H5Dclose);
        if (!from) return false;
        H p1(H5Dget_create_plist(from.get()), H5Pclose), p2(H5Dget_create_plist(to), H5Pclose);
        hsize_t c1[2] = {0, 0}, c2[2] = {0, 0};
        const int r1 = H5Pget_chunk(p1.get(), 2, c1), r2 = H5Pget_chunk(p2.get(), 2, c2);
        if (r1 < 1 || r1 != r2 || c1[0] != c2[0] || c1[1] != c2[1]) return false;
        const hsize_t d = c1[0];
        // Whole HDF5 chunks of both files; a chunk the source pads (its last) only if it is the
        // destination's last as well (the padding is never read).
        if ((cb - S.begin) % d != 0 || (cb - L.begin) % d != 0) return false;
        if ((ce - cb) % d != 0 && !(ce == S.end && ce == L.end)) return false;
        plan.push_back(Copy{std::move(from), to, d, r1});
    }
    std::vector<char> buf;
    for (const Copy& c : plan)
        for (hsize_t r = cb; r < ce; r += c.rows) {
            const hsize_t src_off[2] = {r - S.begin, 0}, dst_off[2] = {r - L.begin, 0};
            hsize_t bytes = 0;
            if (H5Dget_chunk_storage_size(c.from.get(), src_off, &bytes) < 0 || bytes == 0)
                throw IoError(src.impl_->path + ": chunk at row " + std::to_string(r) + " is missing (damaged file?)");
            buf.resize(bytes);
            std::uint32_t mask = 0;
            ok(H5Dread_chunk(c.from.get(), H5P_DEFAULT, src_off, &mask, buf.data()), src.impl_->path, "reading a chunk",
               0);
            ok(H5Dwrite_chunk(c.to, H5P_DEFAULT, mask, dst_off, bytes, buf.data()), m.path, "writing a chunk", 0);
        }
    m.mark_done(k);
    return true;
}

void RunFileWriter::set_flush_per_chunk(bool on) { impl_->barriers = on; }

void RunFileWriter::mark_complete() {
    Impl& m = *impl_;
    const auto d = chunks_done();
    for (std::size_t k = 0; k < d.size(); ++k)
        if (!d[k]) throw IoError(m.path + ": cannot mark complete: chunk " + std::to_string(k) + " is not written");
    H a(ok(H5Aopen(m.file.get(), "complete", H5P_DEFAULT), m.path, "opening attribute complete"), H5Aclose);
    const std::int64_t one = 1;
    ok(H5Awrite(a.get(), H5T_NATIVE_INT64, &one), m.path, "writing attribute complete", 0);
    m.flush();
}

std::size_t RunFileWriter::image_bytes() const {
    impl_->flush();
    // The core driver's file size is its allocation (grown in 1 MiB steps); the image is the data.
    const ssize_t n = H5Fget_file_image(impl_->file.get(), nullptr, 0);
    if (n < 0) fail(impl_->path, "file image size");
    return static_cast<std::size_t>(n);
}

// ---- reader -------------------------------------------------------------------------------------

RunFileReader::RunFileReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    Impl& m = *impl_;
    m.path = path;
    if (!fs::is_regular_file(path)) throw IoError(path + ": no such file");
    if (H5Fis_hdf5(path.c_str()) <= 0) throw IoError(path + ": not an HDF5 file (or damaged)");
    m.file = H(ok(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path, "opening (damaged file?)"), H5Fclose);
    const hid_t f = m.file.get();
    if (H5Aexists(f, "layout") <= 0 || read_attr_text(f, "layout", path) != kLayout)
        throw IoError(path + ": not a ketasim run file (root attribute layout is not '" + std::string(kLayout) + "')");
    RunFileLayout& L = m.layout;
    m.complete = read_attr_int(f, "complete", path) == 1;
    L.n_total = static_cast<std::size_t>(read_attr_int(f, "n_total", path));
    L.begin = static_cast<std::size_t>(read_attr_int(f, "index_begin", path));
    L.end = static_cast<std::size_t>(read_attr_int(f, "index_end", path));
    L.chunk = static_cast<std::size_t>(read_attr_int(f, "chunk", path));
    L.compression = static_cast<int>(read_attr_int(f, "compression", path));
    L.spec_hash = read_attr_text(f, "spec_hash", path);
    L.columns = read_attr_texts(f, "columns", path);
    L.outputs = read_attr_texts(f, "outputs", path);
    if (L.outputs.size() == 1 && L.outputs[0].empty()) L.outputs.clear();
    if (L.end < L.begin || L.end > L.n_total || L.chunk == 0 || L.columns.empty() ||
        (L.columns[0] != "subject" && L.columns[0] != "point"))
        throw IoError(path + ": inconsistent run file attributes (index range, chunk or columns)");
    auto units_of = [&](const std::string& name) {
        H ds(ok(H5Dopen2(f, name.c_str(), H5P_DEFAULT), path, "opening " + name), H5Dclose);
        return H5Aexists(ds.get(), "units") > 0 ? read_attr_text(ds.get(), "units", path) : std::string();
    };
    for (const auto& c : L.columns) L.column_units.push_back(units_of(c));
    for (const auto& o : L.outputs) L.output_units.push_back(units_of(o));
    auto read_all = [&](const std::string& name, hid_t mtype, void* data) {
        H ds(ok(H5Dopen2(f, name.c_str(), H5P_DEFAULT), path, "opening " + name), H5Dclose);
        ok(H5Dread(ds.get(), mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path, "reading " + name, 0);
    };
    auto length = [&](const std::string& name) -> std::size_t {
        H ds(ok(H5Dopen2(f, name.c_str(), H5P_DEFAULT), path, "opening " + name), H5Dclose);
        H sp(H5Dget_space(ds.get()), H5Sclose);
        return static_cast<std::size_t>(H5Sget_simple_extent_npoints(sp.get()));
    };
    if (H5Lexists(f, "time", H5P_DEFAULT) > 0) {
        L.time.resize(length("time"));
        read_all("time", H5T_NATIVE_DOUBLE, L.time.data());
    }
    if (H5Lexists(f, "dose", H5P_DEFAULT) > 0) {
        const std::size_t D = length("dose");
        L.dose_time.resize(D);
        L.dose_amount.resize(D);
        L.dose_duration.resize(D);
        L.dose_interval.resize(D);
        L.dose_per_kg.resize(D);
        L.dose_device.resize(D);
        L.dose_steady_state.resize(D);
        read_all("dose_time", H5T_NATIVE_DOUBLE, L.dose_time.data());
        read_all("dose_amount", H5T_NATIVE_DOUBLE, L.dose_amount.data());
        read_all("dose_duration", H5T_NATIVE_DOUBLE, L.dose_duration.data());
        read_all("dose_interval", H5T_NATIVE_DOUBLE, L.dose_interval.data());
        read_all("dose_per_kg", H5T_NATIVE_INT64, L.dose_per_kg.data());
        read_all("dose_device", H5T_NATIVE_INT64, L.dose_device.data());
        read_all("dose_steady_state", H5T_NATIVE_INT64, L.dose_steady_state.data());
        H st = str_type();
        std::vector<char*> p(D, nullptr);
        read_all("dose_route", st.get(), p.data());
        for (char* c : p) L.dose_route.push_back(c ? c : "");
        H sp = space1(D);
        H5Dvlen_reclaim(st.get(), sp.get(), H5P_DEFAULT, p.data());
    }
    // Run settings: every root attribute that is not structural, by type.
    std::vector<std::string> names;
    hsize_t idx = 0;
    const auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
    };
    ok(H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &names), path, "listing attributes", 0);
    for (const auto& name : names) {
        if (structural_attrs().count(name)) continue;
        H a(ok(H5Aopen(f, name.c_str(), H5P_DEFAULT), path, "attribute " + name), H5Aclose);
        H t(H5Aget_type(a.get()), H5Tclose);
        switch (H5Tget_class(t.get())) {
            case H5T_STRING:
                L.text_attrs.emplace_back(name, read_attr_text(f, name, path));
                break;
            case H5T_INTEGER:
                L.int_attrs.emplace_back(name, read_attr_int(f, name, path));
                break;
            case H5T_FLOAT: {
                double v = 0;
                ok(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v), path, "reading attribute " + name, 0);
                L.number_attrs.emplace_back(name, v);
                break;
            }
            default:
                break;
        }
    }
}

RunFileReader::~RunFileReader() = default;
const RunFileLayout& RunFileReader::layout() const { return impl_->layout; }
bool RunFileReader::complete() const { return impl_->complete; }

std::vector<std::uint8_t> RunFileReader::chunks_done() const {
    std::vector<std::uint8_t> d(impl_->layout.n_chunks());
    H ds(ok(H5Dopen2(impl_->file.get(), "chunks_done", H5P_DEFAULT), impl_->path, "opening chunks_done"), H5Dclose);
    H sp(H5Dget_space(ds.get()), H5Sclose);
    if (static_cast<std::size_t>(H5Sget_simple_extent_npoints(sp.get())) != d.size())
        throw IoError(impl_->path + ": chunks_done has the wrong length");
    if (!d.empty())
        ok(H5Dread(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.data()), impl_->path,
           "reading chunks_done", 0);
    return d;
}

RowBlock RunFileReader::read_rows(std::size_t begin, std::size_t end) const {
    const Impl& m = *impl_;
    const RunFileLayout& L = m.layout;
    if (begin < L.begin || end > L.end || end < begin)
        throw InputError(m.path + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                         ") outside the file's [" + std::to_string(L.begin) + ", " + std::to_string(L.end) + ")");
    RowBlock b;
    b.begin = begin;
    b.end = end;
    const hsize_t n = end - begin, T = L.time.size(), off = begin - L.begin;
    if (n == 0) return b;
    const hid_t f = m.file.get();
    H mem1 = space1(n);
    for (const auto& c : L.columns) {
        H ds(ok(H5Dopen2(f, c.c_str(), H5P_DEFAULT), m.path, "opening " + c), H5Dclose);
        H fs(H5Dget_space(ds.get()), H5Sclose);
        H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &off, nullptr, &n, nullptr);
        std::vector<double> v(n);
        ok(H5Dread(ds.get(), H5T_NATIVE_DOUBLE, mem1.get(), fs.get(), H5P_DEFAULT, v.data()), m.path,
           "reading " + c + " (checksum mismatch or damaged file?)", 0);
        b.columns.push_back(std::move(v));
    }
    const hsize_t start[2] = {off, 0}, count[2] = {n, T};
    for (const auto& o : L.outputs) {
        H ds(ok(H5Dopen2(f, o.c_str(), H5P_DEFAULT), m.path, "opening " + o), H5Dclose);
        H fs(H5Dget_space(ds.get()), H5Sclose);
        H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
        H mem2(H5Screate_simple(2, count, nullptr), H5Sclose);
        std::vector<double> v(n * T);
        ok(H5Dread(ds.get(), H5T_NATIVE_DOUBLE, mem2.get(), fs.get(), H5P_DEFAULT, v.data()), m.path,
           "reading " + o + " (checksum mismatch or damaged file?)", 0);
        b.outputs.push_back(std::move(v));
    }
    return b;
}

}   // namespace ketasim::detail

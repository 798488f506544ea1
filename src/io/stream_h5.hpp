#pragma once
// Streamed run files (docs/hpc.md, "Result file"): an HDF5 file with netCDF-4 dimension scales,
// written one chunk of subjects at a time, with a per-chunk progress record (`chunks_done`) and a
// `complete` attribute (0 while running, 1 at the end). Private to the library: no HDF5 type
// leaves src/io.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ketasim::detail {

struct RunFileLayout {
    std::size_t n_total = 0;                          // points of the whole run
    std::size_t begin = 0, end = 0;                   // rows of this file: [begin, end)
    std::size_t chunk = 1;                            // rows per chunk (aligned to `begin`)
    std::vector<std::string> columns, column_units;   // per-subject values; columns[0] = "subject"
    std::vector<std::string> outputs, output_units;   // trajectories (empty: metrics only)
    std::vector<double> time;                         // h, with trajectories
    // Dose events of the regimen, one entry per event.
    std::vector<double> dose_time, dose_amount, dose_duration, dose_interval;
    std::vector<std::int64_t> dose_per_kg, dose_device, dose_steady_state;
    std::vector<std::string> dose_route;
    std::string spec_hash;
    int compression = 4;
    // Run attributes (spec text, model, solver settings that affected the numbers, seed, ...).
    std::vector<std::pair<std::string, std::string>> text_attrs;
    std::vector<std::pair<std::string, std::int64_t>> int_attrs;
    std::vector<std::pair<std::string, double>> number_attrs;

    std::size_t rows() const { return end - begin; }
    std::size_t n_chunks() const { return rows() == 0 ? 0 : (rows() + chunk - 1) / chunk; }
    std::size_t chunk_begin(std::size_t k) const { return begin + k * chunk; }
    std::size_t chunk_end(std::size_t k) const { return std::min(end, begin + (k + 1) * chunk); }
};

// Rows of one or more consecutive subjects: columns[c][r] and outputs[o][r * T + j].
struct RowBlock {
    std::size_t begin = 0, end = 0;
    std::vector<std::vector<double>> columns;
    std::vector<std::vector<double>> outputs;
};

// An exclusive claim on PATH through PATH.lock (flock, released by the kernel if the process
// dies, so a killed run never blocks its --resume); the file records the owner's pid for the
// message a second run gets.
class RunLock {
public:
    explicit RunLock(const std::string& path);
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

private:
    std::string lock_path_;
    int fd_ = -1;
};

// One run chunk encoded for its file: per chunked dataset (columns, then outputs), the chunk's
// HDF5 chunks in row order, each filtered as the dataset's pipeline stores it.
struct EncodedChunk {
    std::size_t k = 0;
    std::vector<std::vector<std::vector<std::uint8_t>>> data;
};

class RunFileReader;

class RunFileWriter {
public:
    // Creates `path` (which must not exist) with every dataset sized for layout.rows();
    // `in_memory`: HDF5 core driver without a backing store (size estimates).
    RunFileWriter(const std::string& path, const RunFileLayout& layout, bool in_memory = false);
    // Reopens a file this writer created and closed cleanly, to write its remaining chunks.
    explicit RunFileWriter(const std::string& path);
    ~RunFileWriter();   // flushes and closes; a file without mark_complete() stays complete = 0
    RunFileWriter(const RunFileWriter&) = delete;
    RunFileWriter& operator=(const RunFileWriter&) = delete;

    const RunFileLayout& layout() const;
    std::vector<std::uint8_t> chunks_done() const;
    // Writes chunk k (rows layout.chunk_begin(k) .. chunk_end(k)); then flushes, records the chunk
    // as done and flushes again, so a chunk recorded as done is on disk whatever happens next.
    // Trajectory values must be finite and columns not infinite (SolverError otherwise).
    void write_chunk(std::size_t k, const RowBlock& rows);
    // write_chunk in two halves, so that the compression runs in the worker threads:
    // encode_chunk checks and compresses (no HDF5 call; safe from several threads at once, also
    // while another thread writes), write_encoded stores the chunks (H5Dwrite_chunk) and records
    // chunk k as done (one thread at a time).
    EncodedChunk encode_chunk(std::size_t k, const RowBlock& rows) const;
    void write_encoded(const EncodedChunk& chunk);
    // Chunk k copied from `src` as stored (compressed, with its checksums), without decoding:
    // possible when both files chunk every dataset alike and chunk k lies on whole HDF5 chunks of
    // `src` (chunk-aligned shards). Returns false, writing nothing, when it is not possible.
    bool copy_chunk_raw(std::size_t k, const RunFileReader& src);
    void mark_complete();
    // Off: no flush barriers per chunk (a file that is renamed into place only when complete,
    // such as a merge's output, needs none; the barriers cost most of a merge's time).
    void set_flush_per_chunk(bool on);
    std::size_t image_bytes() const;   // in-memory files: the current file size
    void close();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class RunFileReader {
public:
    explicit RunFileReader(const std::string& path);   // IoError if not a ketasim run file
    ~RunFileReader();
    RunFileReader(const RunFileReader&) = delete;
    RunFileReader& operator=(const RunFileReader&) = delete;
    const RunFileLayout& layout() const;
    bool complete() const;
    std::vector<std::uint8_t> chunks_done() const;
    // Global rows [begin, end) within the file's range; IoError on a damaged file (checksums).
    RowBlock read_rows(std::size_t begin, std::size_t end) const;

private:
    friend class RunFileWriter;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The `ketasim_version` attribute (kept in one place: another part of ketasim may add more
// version details to result files).
std::string run_file_version_string();

}   // namespace ketasim::detail

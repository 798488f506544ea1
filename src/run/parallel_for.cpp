// Deterministic parallel_for: chunks claimed from an atomic counter in index order; errors by
// lowest index; progress and cancellation serviced on the calling thread.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <thread>

#include "core/text.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/run.hpp"

namespace ketasim {

namespace {
// Progress period: short enough for a responsive Ctrl-C and progress bar, long enough that the
// callback (which may take the Python GIL) costs nothing measurable.
constexpr std::chrono::milliseconds kProgressPeriod{50};
// Far above any machine targeted; catches garbage such as -1 cast to unsigned.
constexpr int kMaxThreads = 4096;
}   // namespace

void ParallelOptions::validate() const {
    if (threads < 0 || threads > kMaxThreads)
        throw InputError("threads: " + std::to_string(threads) + " must be in [0, " + std::to_string(kMaxThreads) +
                         "] (0 = all available cores)");
    if (chunk < 1 || chunk > (std::size_t{1} << 30))
        throw InputError("chunk: " + std::to_string(chunk) + " must be in [1, 2^30]");
}

int resolve_thread_count(int requested) {
    if (requested > 0) return requested;
    if (const char* s = std::getenv("SLURM_CPUS_PER_TASK")) {
        char* end = nullptr;
        const long v = std::strtol(s, &end, 10);
        if (end != s && *end == '\0' && v >= 1 && v <= kMaxThreads) return static_cast<int>(v);
    }
    const unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : static_cast<int>(std::min<unsigned>(hc, kMaxThreads));
}

void parallel_for(std::size_t begin, std::size_t end, const ParallelOptions& o,
                  const std::function<void(std::size_t, std::size_t)>& fn) {
    o.validate();
    if (end < begin) throw InputError("parallel_for: end " + std::to_string(end) + " < begin " + std::to_string(begin));
    const std::size_t n = end - begin;
    if (n == 0) {
        if (o.progress) o.progress(0, 0);
        return;
    }
    const std::size_t chunk = o.chunk;
    const std::size_t n_chunks = (n + chunk - 1) / chunk;
    const std::size_t nthreads =
        std::min<std::size_t>(static_cast<std::size_t>(resolve_thread_count(o.threads)), n_chunks);

    std::vector<std::exception_ptr> errors(n_chunks);
    std::atomic<std::size_t> next{0}, done{0};
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> running{nthreads};
    bool cancelled = false;
    std::exception_ptr progress_error;
    auto report = [&]() {
        bool keep_going = true;
        try {
            keep_going = o.progress(done.load(), n);
        } catch (...) {
            progress_error = std::current_exception();
            keep_going = false;
        }
        if (!keep_going) {
            cancelled = true;
            stop.store(true);
        }
    };
    // Claims chunks until none is left or the run stops. Once stop is set no chunk is claimed; every
    // chunk below a failing one was claimed earlier and completes.
    auto work = [&](bool caller) {
        using clock = std::chrono::steady_clock;
        auto last = clock::now();
        for (;;) {
            if (stop.load(std::memory_order_relaxed)) break;
            const std::size_t c = next.fetch_add(1);
            if (c >= n_chunks) break;
            const std::size_t b = begin + c * chunk, e = std::min(end, b + chunk);
            try {
                fn(b, e);
            } catch (...) {
                errors[c] = std::current_exception();
                stop.store(true);
            }
            done.fetch_add(e - b);
            if (caller && o.progress && !stop.load(std::memory_order_relaxed) &&
                clock::now() - last >= kProgressPeriod) {
                last = clock::now();
                report();
            }
        }
    };
    if (nthreads <= 1) {
        work(true);
    } else {
        std::vector<std::thread> pool;
        pool.reserve(nthreads - 1);
        for (std::size_t t = 0; t + 1 < nthreads; ++t)
            pool.emplace_back([&] {
                work(false);
                running.fetch_sub(1);
            });
        // The calling thread works as well and services progress between its chunks; once it runs
        // out of chunks it keeps reporting until the workers finish.
        work(true);
        running.fetch_sub(1);
        auto last = std::chrono::steady_clock::now();
        while (running.load() > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            if (o.progress && !cancelled && std::chrono::steady_clock::now() - last >= kProgressPeriod) {
                last = std::chrono::steady_clock::now();
                report();
            }
        }
        for (auto& th : pool) th.join();
    }
    for (const auto& e : errors)
        if (e) std::rethrow_exception(e);
    if (progress_error) std::rethrow_exception(progress_error);
    if (cancelled)
        throw RunCancelled("run cancelled after " + std::to_string(done.load()) + " of " + std::to_string(n) +
                           " points");
    if (o.progress) o.progress(n, n);
}

void deliver(ResultSink& sink, std::mutex& serial, ColumnBlock&& block) {
    if (sink.concurrent_writes()) {
        sink.write(std::move(block));
        return;
    }
    std::lock_guard<std::mutex> lock(serial);
    sink.write(std::move(block));
}

void MemorySink::start(const std::vector<std::string>& n, const std::vector<std::string>& u, std::size_t b,
                       std::size_t e) {
    names = n;
    units = u;
    begin = b;
    end = e;
    columns.assign(names.size(), std::vector<double>(e - b, 0.0));
    if (keep_trajectories_) trajectories.assign(e - b, Trajectory{});
}

void MemorySink::write(ColumnBlock&& block) {
    if (block.begin < begin || block.end > end || block.columns.size() != columns.size())
        throw SolverError("memory sink: block [" + std::to_string(block.begin) + ", " + std::to_string(block.end) +
                          ") does not fit the run");
    for (std::size_t c = 0; c < columns.size(); ++c)
        std::copy(block.columns[c].begin(), block.columns[c].end(),
                  columns[c].begin() + static_cast<std::ptrdiff_t>(block.begin - begin));
    if (keep_trajectories_)
        for (std::size_t i = 0; i < block.trajectories.size(); ++i)
            trajectories[block.begin - begin + i] = std::move(block.trajectories[i]);
}

const std::vector<double>& MemorySink::column(const std::string& name) const {
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return columns[i];
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    throw InputError("result: no column '" + name + "' (columns: " + all + ")");
}

}   // namespace ketasim

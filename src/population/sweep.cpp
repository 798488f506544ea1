// Parallel sweep: the one-simulation pipeline over many points. Workers pull point indices from
// an atomic counter and write only their own result slot, so results are bitwise identical for
// any thread count. With one thread the calling thread runs the points itself; with more it
// waits, reports progress and collects errors.
#include "ketasim/sweep.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "core/text.hpp"
#include "solve/inputs.hpp"
#include "ketasim/errors.hpp"

namespace ketasim {

namespace {

// Progress callback period: short enough for a responsive Ctrl-C and progress bar, long enough
// that the callback (which may take the Python GIL) costs nothing measurable.
constexpr std::chrono::milliseconds kProgressPeriod{50};

// Upper bound on threads: far above any machine we target; catches garbage such as -1 cast
// to unsigned or an uninitialised value.
constexpr int kMaxThreads = 4096;

void run_point(const Model& model, const SweepPoint& point, const OutputGrid& grid, const SimOptions& options,
               const SweepOptions& sweep, std::map<std::string, Metrics>& metrics_out, Trajectory* traj_out) {
    // Grid and options were validated once by run_sweep; the subject and regimen are per point
    // and are validated by compile() and build_inputs().
    Trajectory tr = detail::simulate_prevalidated(model, point.regimen, grid, options, point.subject);
    MetricOptions mo = sweep.metric_options;
    // The automatic terminal window starts after the last dose of *this* point's regimen.
    if (mo.last_dose_time == 0.0) mo.last_dose_time = point.regimen.last_time();
    const std::vector<std::string>& outs = sweep.outputs.empty() ? tr.names : sweep.outputs;
    for (const auto& name : outs) metrics_out[name] = compute_metrics(tr, name, mo);
    if (traj_out) *traj_out = std::move(tr);
}

}  // namespace

std::vector<SweepPoint> grid_points(const Subject& base, const Regimen& regimen, const std::vector<std::string>& names,
                                    const double* values, std::size_t n_points) {
    const std::size_t k = names.size();
    std::vector<SweepPoint> points(n_points, SweepPoint{base, regimen});
    for (std::size_t i = 0; i < n_points; ++i) {
        SweepPoint& p = points[i];
        double dose = -1.0;
        for (std::size_t j = 0; j < k; ++j) {
            const double v = values[i * k + j];
            const std::string& name = names[j];
            if (!std::isfinite(v))
                throw InputError("sweep point " + std::to_string(i) + ": " + name + " = " + detail::fmt(v) +
                                 " must be finite");
            if (name == "weight") {
                p.subject.weight_kg = v;   // Subject::validate() checks the range when the point runs
            } else if (name == "age") {
                p.subject.age_years = v;
            } else if (name == "dose") {
                if (!(v > 0)) throw InputError("sweep point " + std::to_string(i) + ": dose = " + detail::fmt(v) +
                                               " mg must be > 0");
                dose = v;
            } else {
                p.subject.parameters[name] = v;
            }
        }
        if (dose > 0) {
            double total = 0.0;
            for (const auto& e : regimen.events) total += e.amount_mg(p.subject.weight_kg);
            if (!(total > 0)) throw InputError("sweep: 'dose' needs a regimen with a positive total dose");
            for (auto& e : p.regimen.events) e.amount *= dose / total;
        }
    }
    return points;
}

void SweepOptions::validate() const {
    if (threads < 1 || threads > kMaxThreads)
        throw InputError("SweepOptions.threads: " + std::to_string(threads) + " must be in [1, " +
                         std::to_string(kMaxThreads) + "]");
    for (std::size_t i = 0; i < outputs.size(); ++i)
        if (outputs[i].empty()) throw InputError("SweepOptions.outputs[" + std::to_string(i) + "]: empty output name");
    metric_options.validate();
}

SweepResult run_sweep(const Model& model, const std::vector<SweepPoint>& points, const OutputGrid& grid,
                      const SimOptions& options, const SweepOptions& sweep) {
    sweep.validate();
    options.validate();
    grid.validate();
    // Metrics only: record (and so propagate) just the outputs they are computed on.
    SimOptions effective = options;
    if (!sweep.keep_trajectories && !sweep.outputs.empty() && options.outputs.empty()) effective.outputs = sweep.outputs;

    const std::size_t n = points.size();
    SweepResult result;
    result.metrics.resize(n);
    if (sweep.keep_trajectories) result.trajectories.resize(n);
    if (n == 0) {
        if (sweep.progress) sweep.progress(0, 0);
        return result;
    }

    std::vector<std::exception_ptr> errors(n);
    std::atomic<std::size_t> next{0}, done{0};
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::condition_variable cv;
    std::size_t workers_left = 0;

    const std::size_t nthreads = std::min<std::size_t>(static_cast<std::size_t>(sweep.threads), n);
    bool cancelled = false;
    std::exception_ptr progress_error;
    // Calls the progress hook (on the calling thread only); false when the sweep must stop.
    auto report = [&]() {
        bool keep_going = true;
        try {
            keep_going = sweep.progress(done.load(), n);
        } catch (...) {
            // A throwing callback cancels; its exception is rethrown after the workers stop.
            progress_error = std::current_exception();
            keep_going = false;
        }
        if (!keep_going) {
            cancelled = true;
            stop.store(true);
        }
        return keep_going;
    };
    // Claims and runs points until none is left or the sweep stops. `caller` is true on the
    // calling thread when it works itself; it then also reports progress between points.
    // Once stop is set no new index is claimed; every index below a failing one was claimed
    // earlier and runs to completion, so "first error by point index" is thread-count invariant.
    auto work = [&](bool caller) {
        using clock = std::chrono::steady_clock;
        auto last = clock::now();
        for (;;) {
            if (stop.load(std::memory_order_relaxed)) break;
            const std::size_t i = next.fetch_add(1);
            if (i >= n) break;
            try {
                run_point(model, points[i], grid, effective, sweep, result.metrics[i],
                          sweep.keep_trajectories ? &result.trajectories[i] : nullptr);
            } catch (...) {
                errors[i] = std::current_exception();
                stop.store(true);
            }
            done.fetch_add(1);
            if (caller && sweep.progress && !stop.load(std::memory_order_relaxed) &&
                clock::now() - last >= kProgressPeriod) {
                last = clock::now();
                report();
            }
        }
    };
    if (nthreads == 1) {
        // One thread: the calling thread does the work itself (no thread start-up, which costs
        // more than a whole point of a small sweep) and reports between points.
        work(true);
    } else {
        workers_left = nthreads;
        std::vector<std::thread> pool;
        pool.reserve(nthreads);
        for (std::size_t t = 0; t < nthreads; ++t)
            pool.emplace_back([&] {
                work(false);
                std::lock_guard<std::mutex> lock(mutex);
                if (--workers_left == 0) cv.notify_all();
            });
        {
            std::unique_lock<std::mutex> lock(mutex);
            while (workers_left > 0) {
                cv.wait_for(lock, kProgressPeriod, [&] { return workers_left == 0; });
                if (workers_left == 0 || !sweep.progress || cancelled) continue;
                lock.unlock();
                report();
                lock.lock();
            }
        }
        for (auto& th : pool) th.join();
    }

    for (std::size_t i = 0; i < n; ++i)
        if (errors[i]) std::rethrow_exception(errors[i]);
    if (progress_error) std::rethrow_exception(progress_error);
    if (cancelled)
        throw SweepCancelled("sweep cancelled after " + std::to_string(done.load()) + " of " + std::to_string(n) +
                             " points");
    if (sweep.progress) sweep.progress(n, n);   // final report; the sweep is complete either way
    return result;
}

}  // namespace ketasim

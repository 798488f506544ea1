// Issue 8's performance target: N virtual patients of a treatment course (default: esketamine
// induction, 1,000,000 patients), PK + PD, metrics only, with memory bounded by the chunk size:
// the sink keeps running counts (response and remission per session) and drops every block.
//   bench_course_population [N] [threads] [chunk] [dt_min] [full|metrics-only] [schedule] [weeks] [rtol]
// (rtol: the symptom model's dopri5 relative tolerance, default the library's SymptomOptions; atol
// is scaled with it by the library's ratio 1e-2)
// Prints wall and CPU time, patients/s, the response/remission rates and peak RSS.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <iostream>
#include <string>

#include "ketasim/ketasim.hpp"

using namespace ketasim;

namespace {
// Counts per session; nothing per patient is kept.
class CountingSink : public ResultSink {
public:
    void start(const std::vector<std::string>& names, const std::vector<std::string>&, std::size_t,
               std::size_t) override {
        for (std::size_t c = 0; c < names.size(); ++c) {
            if (names[c].rfind("response.", 0) == 0) resp_cols.push_back(c);
            if (names[c].rfind("remission.", 0) == 0) rem_cols.push_back(c);
        }
        resp.assign(resp_cols.size(), 0);
        rem.assign(rem_cols.size(), 0);
    }
    void write(ColumnBlock&& b) override {
        n += b.end - b.begin;
        for (std::size_t k = 0; k < resp_cols.size(); ++k)
            for (double v : b.columns[resp_cols[k]]) resp[k] += v == 1.0;
        for (std::size_t k = 0; k < rem_cols.size(); ++k)
            for (double v : b.columns[rem_cols[k]]) rem[k] += v == 1.0;
    }
    std::vector<std::size_t> resp_cols, rem_cols, resp, rem;
    std::size_t n = 0;
};

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}   // namespace

int main(int argc, char** argv) {
    try {
        const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 1000000;
        const int threads = argc > 2 ? std::stoi(argv[2]) : 2;
        const std::size_t chunk = argc > 3 ? std::stoul(argv[3]) : 256;
        const double dt_min = argc > 4 ? std::stod(argv[4]) : 1.0;
        const bool fast = argc > 5 ? std::string(argv[5]) != "full" : true;
        ScheduleRequest q;
        q.name = argc > 6 ? argv[6] : "esketamine-induction";
        if (argc > 7) q.weeks = std::stoi(argv[7]);
        const Model model = load_library_model(schedule_info(q.name).default_model, KETASIM_BENCH_MODELS_DIR);
        const CourseSpec spec = schedule_course(q, model);
        PopulationSpec ps;
        ps.n = n;
        ps.seed = 2026;
        const PopulationSource src(spec.model, ps, spec.regimen.per_kg());
        CoursePopulationOptions o;
        o.course.dt_h = dt_min / 60.0;
        o.metrics_only = fast;
        if (argc > 8) {
            o.course.symptom.rtol = std::stod(argv[8]);
            o.course.symptom.atol = 1e-2 * o.course.symptom.rtol;
        }
        o.parallel.threads = threads;
        o.parallel.chunk = chunk;
        CountingSink sink;
        const auto w0 = std::chrono::steady_clock::now();
        const double c0 = cpu_seconds();
        run_course_population(spec, load_library_pd("acute_effects", KETASIM_BENCH_MODELS_DIR),
                              load_library_pd("madrs", KETASIM_BENCH_MODELS_DIR), src, 0, n, o, sink);
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
        const double cpu = cpu_seconds() - c0;
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        std::cout << spec.description << "\n"
                  << (fast ? "metrics-only" : "full") << " path, " << n << " patients, " << threads
                  << " thread(s), chunk " << chunk << ", grid " << dt_min << " min, symptom rtol "
                  << o.course.symptom.rtol << "\n"
                  << "wall " << wall << " s, CPU " << cpu << " s, " << n / wall << " patients/s, "
                  << 1e6 * cpu / static_cast<double>(n) << " us CPU per patient, peak RSS " << ru.ru_maxrss / 1024
                  << " MB\n";
        for (std::size_t k = 0; k < sink.resp.size(); ++k)
            std::cout << "session " << k + 1 << ": response " << 100.0 * sink.resp[k] / sink.n << " %, remission "
                      << 100.0 * sink.rem[k] / sink.n << " %\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "bench_course_population: " << e.what() << "\n";
        return 1;
    }
}

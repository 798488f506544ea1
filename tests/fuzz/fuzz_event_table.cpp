// Fuzzes the NONMEM-style event-table reader. load_event_table takes a path, so the input is
// written to an anonymous in-memory file (memfd) and read back through /proc/self/fd/N; nothing
// touches the disk. The input's length parity picks whether a model is given (CMT by name) or
// not. When the table is accepted, an exact simulation on esketamine_nasal at its observation
// times must be finite, non-negative and conserve mass. Seeds: tests/fuzz/corpus/event_table.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ketasim;
    const int fd = memfd_create("fuzz_events.csv", 0);
    if (fd < 0) ketasim_fuzz::finding("memfd_create failed (harness environment)");
    std::size_t done = 0;
    while (done < size) {
        const ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) ketasim_fuzz::finding("write to memfd failed (harness environment)");
        done += static_cast<std::size_t>(w);
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    const Model& model = ketasim_fuzz::library_model("esketamine_nasal");
    EventTable table;
    const bool ok = ketasim_fuzz::guarded([&] { table = load_event_table(path, size % 2 ? &model : nullptr, -1); });
    // The dataset reader (one subject per ID, covariate columns) on the same bytes: a clean error
    // or a dataset whose every subject has a dose and finite covariates.
    ketasim_fuzz::guarded([&] {
        const Dataset d = load_dataset(path, model);
        for (const auto& s : d.subjects)
            if (s.regimen.events.empty()) ketasim_fuzz::finding("load_dataset: a subject without a dose");
        for (double v : d.covariates)
            if (!std::isfinite(v)) ketasim_fuzz::finding("load_dataset: a non-finite covariate");
    });
    close(fd);
    if (!ok || table.regimen.events.size() > 200) return 0;
    std::vector<double> times = table.observation_times;
    times.push_back(table.regimen.last_time() + 24.0);
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(), times.end()), times.end());
    if (times.size() > 500) return 0;
    ketasim_fuzz::simulate_and_check(model, table.regimen, OutputGrid::at(times), SimOptions{}, Subject{},
                                     "load_event_table + simulate");
    return 0;
}

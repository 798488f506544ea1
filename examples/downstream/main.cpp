// Simulates one model from the installed library: 56 mg intranasal esketamine (two 28 mg
// devices, 5 min apart) in a typical 70 kg adult, and prints the plasma peak. Exit code 0 only if
// the peak is finite and positive, so a broken install fails the build check that runs this.
#include <cmath>
#include <cstdio>
#include <exception>

#include <ketasim/ketasim.hpp>

int main() {
    try {
        const ketasim::Model model = ketasim::load_library_model("esketamine_nasal", KETASIM_MODELS_DIR);
        const ketasim::Regimen regimen = ketasim::Regimen::intranasal(56.0, {0.0});
        const ketasim::Trajectory traj =
            ketasim::simulate(model, regimen, ketasim::OutputGrid::uniform(0.0, 24.0, 1.0 / 60.0));
        const ketasim::Metrics m = ketasim::compute_metrics(traj, "C_plasma");
        std::printf("ketasim %s, models from %s\n", ketasim::version().c_str(), KETASIM_MODELS_DIR);
        std::printf("esketamine 56 mg intranasal: Cmax %.2f ng/mL at %.2f h\n", m.cmax, m.tmax);
        return std::isfinite(m.cmax) && m.cmax > 0.0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nasal_peak: %s\n", e.what());
        return 2;
    }
}

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/toml_util.hpp"
#include "ketasim/io.hpp"

namespace ketasim {

namespace fs = std::filesystem;

std::string version() { return KETASIM_VERSION; }

std::string default_models_dir() {
    if (const char* env = std::getenv("KETASIM_MODELS_DIR"); env && *env) return env;
    if (fs::exists(fs::path(KETASIM_SOURCE_MODELS_DIR) / "index.toml")) return KETASIM_SOURCE_MODELS_DIR;
    return KETASIM_INSTALL_MODELS_DIR;
}

std::vector<LibraryEntry> list_models(const std::string& models_dir) {
    using namespace detail;
    const std::string dir = models_dir.empty() ? default_models_dir() : models_dir;
    const std::string file = (fs::path(dir) / "index.toml").string();
    std::ifstream in(file);
    if (!in) throw InputError(file + ": cannot open the model library index (set KETASIM_MODELS_DIR or --models-dir)");
    std::ostringstream ss;
    ss << in.rdbuf();
    const toml::table root = parse_toml(ss.str(), file);
    check_keys(root, {"model"}, file, "");
    std::vector<LibraryEntry> out;
    const toml::node* n = root.get("model");
    if (!n || !n->as_array()) throw InputError(file + ": expected [[model]] entries");
    const toml::array& a = *n->as_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string path = "model[" + std::to_string(i) + "]";
        const toml::table* t = a[i].as_table();
        if (!t) throw InputError(at_line(file, a[i]) + ": " + path + " must be a table");
        check_keys(*t, {"name", "file", "title", "route", "analyte", "default", "notes"}, file, path);
        LibraryEntry e;
        e.name = get_string(*t, "name", file, path, true);
        e.file = get_string(*t, "file", file, path, true);
        e.title = get_string(*t, "title", file, path, false);
        e.route = get_string(*t, "route", file, path, false);
        e.analyte = get_string(*t, "analyte", file, path, false);
        e.is_default = get_bool(*t, "default", file, path, false);
        e.notes = get_string(*t, "notes", file, path, false);
        out.push_back(e);
    }
    return out;
}

std::string resolve_model_path(const std::string& name_or_path, const std::string& models_dir) {
    if (name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".toml") {
        if (!fs::exists(name_or_path)) throw InputError(name_or_path + ": model file does not exist");
        return name_or_path;
    }
    const std::string dir = models_dir.empty() ? default_models_dir() : models_dir;
    std::string names;
    for (const auto& e : list_models(dir)) {
        if (e.name == name_or_path) return (fs::path(dir) / e.file).string();
        names += (names.empty() ? "" : ", ") + e.name;
    }
    throw InputError("model '" + name_or_path + "' is neither a .toml file nor in the library (" + names + ")");
}

Model load_library_model(const std::string& name_or_path, const std::string& models_dir) {
    return load_model(resolve_model_path(name_or_path, models_dir));
}

}  // namespace ketasim

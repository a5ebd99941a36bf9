#include "json_schema.hpp"

#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace anchorctl::testing {
namespace {

std::string type_of(const nlohmann::json& value) {
    if (value.is_null()) return "null";
    if (value.is_boolean()) return "boolean";
    if (value.is_number_integer()) return "integer";
    if (value.is_number()) return "number";
    if (value.is_string()) return "string";
    if (value.is_array()) return "array";
    return "object";
}

bool type_matches(const std::string& wanted, const nlohmann::json& value) {
    const std::string actual = type_of(value);
    return wanted == actual || (wanted == "number" && actual == "integer");
}

class Validator {
  public:
    explicit Validator(const nlohmann::json& definitions) : definitions_(definitions) {}

    void check(const nlohmann::json& value, const nlohmann::json& schema, const std::string& path) {
        if (schema.contains("$ref")) {
            const std::string ref = schema["$ref"];
            const std::string prefix = "#/definitions/";
            if (ref.rfind(prefix, 0) != 0 || !definitions_.contains(ref.substr(prefix.size()))) {
                fail(path, "unresolvable $ref " + ref);
                return;
            }
            check(value, definitions_[ref.substr(prefix.size())], path);
            return;
        }
        if (schema.contains("type")) {
            std::vector<std::string> types;
            if (schema["type"].is_array()) {
                for (const auto& t : schema["type"]) types.push_back(t);
            } else {
                types.push_back(schema["type"]);
            }
            bool any = false;
            for (const auto& t : types) any = any || type_matches(t, value);
            if (!any) {
                fail(path, "is " + type_of(value) + ", schema wants " + schema["type"].dump());
                return;
            }
        }
        if (schema.contains("enum")) {
            bool found = false;
            for (const auto& allowed : schema["enum"]) found = found || allowed == value;
            if (!found) fail(path, value.dump() + " is not one of " + schema["enum"].dump());
        }
        if (schema.contains("pattern") && value.is_string()) {
            const std::regex pattern(schema["pattern"].get<std::string>());
            if (!std::regex_search(value.get<std::string>(), pattern)) {
                fail(path,
                     value.dump() + " does not match " + schema["pattern"].get<std::string>());
            }
        }
        if (schema.contains("minimum") && value.is_number()) {
            if (value.get<double>() < schema["minimum"].get<double>()) {
                fail(path, value.dump() + " is below the minimum " + schema["minimum"].dump());
            }
        }
        if (value.is_object()) check_object(value, schema, path);
        if (value.is_array() && schema.contains("items")) {
            for (std::size_t i = 0; i < value.size(); ++i) {
                check(value[i], schema["items"], path + "/" + std::to_string(i));
            }
        }
    }

    std::vector<std::string> violations;

  private:
    void check_object(const nlohmann::json& value, const nlohmann::json& schema,
                      const std::string& path) {
        const auto properties = schema.value("properties", nlohmann::json::object());
        if (schema.contains("required")) {
            for (const auto& name : schema["required"]) {
                if (!value.contains(name.get<std::string>())) {
                    fail(path, "lacks the required field \"" + name.get<std::string>() + "\"");
                }
            }
        }
        for (const auto& [name, member] : value.items()) {
            if (properties.contains(name)) {
                check(member, properties[name], path + "/" + name);
            } else if (schema.value("additionalProperties", true) == false) {
                fail(path, "has the field \"" + name + "\", which the schema does not list");
            }
        }
    }

    void fail(const std::string& path, const std::string& what) {
        violations.push_back((path.empty() ? "/" : path) + ": " + what);
    }

    const nlohmann::json& definitions_;
};

}  // namespace

const SchemaPage& SchemaPage::load() {
    static const SchemaPage page = [] {
        const std::string file = std::string(ANCHORD_SOURCE_DIR) + "/docs/anchorctl-json.md";
        std::ifstream in(file);
        if (!in) throw std::runtime_error("cannot read " + file);
        SchemaPage out;
        std::string line;
        const std::regex marker(R"(^<!-- schema: ([a-z_]+) -->$)");
        while (std::getline(in, line)) {
            std::smatch m;
            if (!std::regex_match(line, m, marker)) continue;
            const std::string name = m[1];
            std::getline(in, line);
            if (line != "```json")
                throw std::runtime_error("schema " + name + ": no ```json block");
            std::string text;
            while (std::getline(in, line) && line != "```") text += line + "\n";
            out.schemas_[name] = nlohmann::json::parse(text);
        }
        if (!out.schemas_.contains("definitions")) {
            throw std::runtime_error(file + " has no definitions block");
        }
        return out;
    }();
    return page;
}

const nlohmann::json& SchemaPage::schema(const std::string& name) const {
    if (!schemas_.contains(name)) throw std::runtime_error("the schema page has no " + name);
    return schemas_.at(name);
}

std::vector<std::string> SchemaPage::violations(const nlohmann::json& document,
                                                const std::string& name) const {
    Validator validator(schemas_.at("definitions"));
    validator.check(document, schema(name), "");
    return validator.violations;
}

}  // namespace anchorctl::testing

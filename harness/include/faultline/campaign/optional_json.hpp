// An optional value in the reports' JSON: null when unset, and back.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

namespace faultline {

template <typename T>
nlohmann::json optional_json(const std::optional<T>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json();
}

template <typename T>
std::optional<T> optional_from(const nlohmann::json& value) {
    return value.is_null() ? std::nullopt : std::optional<T>(value.get<T>());
}

}  // namespace faultline

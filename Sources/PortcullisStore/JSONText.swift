import Foundation
import PortcullisModel

/// Lists stored as JSON text (`["a","b"]`), the one array form both dialects share.
enum JSONText {
    static func encode(_ list: [String]) -> String {
        guard let data = try? JSONEncoder().encode(list), let text = String(data: data, encoding: .utf8) else {
            return "[]"
        }
        return text
    }

    static func decode(_ text: String, column: String) throws(StoreError) -> [String] {
        do {
            return try JSONDecoder().decode([String].self, from: Data(text.utf8))
        } catch {
            throw StoreError.corrupt("column \(column) is not a JSON list of strings")
        }
    }
}

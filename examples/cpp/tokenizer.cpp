// A tokenizer with a state machine: enum classes, structs, while/do loops, optional, early returns.
#include <cctype>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

enum class Kind { Number, Word, Symbol };

struct Token {
    Kind kind;
    std::string text;
};

class Tokenizer {
public:
    explicit Tokenizer(std::string source) : source_(std::move(source)) {}

    std::optional<Token> next() {
        while (pos_ < source_.size() && std::isspace(static_cast<unsigned char>(source_[pos_]))) {
            ++pos_;
        }
        if (pos_ >= source_.size()) {
            return std::nullopt;
        }
        const std::size_t start = pos_;
        const char c = source_[pos_];
        if (std::isdigit(static_cast<unsigned char>(c))) {
            do {
                ++pos_;
            } while (pos_ < source_.size() && std::isdigit(static_cast<unsigned char>(source_[pos_])));
            return Token{Kind::Number, source_.substr(start, pos_ - start)};
        } else if (std::isalpha(static_cast<unsigned char>(c))) {
            while (pos_ < source_.size() && std::isalnum(static_cast<unsigned char>(source_[pos_]))) {
                ++pos_;
            }
            return Token{Kind::Word, source_.substr(start, pos_ - start)};
        }
        ++pos_;
        return Token{Kind::Symbol, std::string(1, c)};
    }

private:
    std::string source_;
    std::size_t pos_ = 0;
};

const char *describe(Kind kind) {
    switch (kind) {
    case Kind::Number:
        return "number";
    case Kind::Word:
        return "word";
    case Kind::Symbol:
        break;
    }
    return "symbol";
}

int main() {
    Tokenizer tokenizer("let x1 = 42 + y; stop 7");
    std::vector<Token> tokens;
    while (auto token = tokenizer.next()) {
        if (token->kind == Kind::Symbol && token->text == ";") {
            continue;
        }
        if (token->text == "stop") {
            break;
        }
        tokens.push_back(*token);
    }
    for (const Token &t : tokens) {
        std::cout << describe(t.kind) << ':' << t.text << ' ';
    }
    std::cout << '\n';
    return 0;
}

/* Counting words with a hash table: nested loops with break/continue, early returns, do/while. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TABLE_SIZE = 64, WORD_MAX = 32 };

struct entry {
    char word[WORD_MAX];
    unsigned count;
    struct entry *next;
};

static struct entry *table[TABLE_SIZE];

static unsigned hash(const char *s) {
    unsigned h = 5381;
    while (*s) {
        h = h * 33u ^ (unsigned char)*s++;
    }
    return h % TABLE_SIZE;
}

static struct entry *lookup(const char *word, int create) {
    unsigned slot = hash(word);
    for (struct entry *e = table[slot]; e != NULL; e = e->next) {
        if (strcmp(e->word, word) == 0) {
            return e;
        }
    }
    if (!create) {
        return NULL;
    }
    struct entry *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return NULL;
    }
    strncpy(e->word, word, WORD_MAX - 1);
    e->next = table[slot];
    table[slot] = e;
    return e;
}

static void count_words(const char *text) {
    char word[WORD_MAX];
    size_t len = 0;
    do {
        if (isalpha((unsigned char)*text) && len < WORD_MAX - 1) {
            word[len++] = (char)tolower((unsigned char)*text);
            continue;
        }
        if (len == 0) {
            continue;
        }
        word[len] = '\0';
        len = 0;
        struct entry *e = lookup(word, 1);
        if (e == NULL) {
            break;
        }
        e->count++;
    } while (*text++ != '\0');
}

int main(void) {
    count_words("the quick brown fox jumps over the lazy dog; the end");
    const struct entry *the = lookup("the", 0);
    printf("the: %u\n", the ? the->count : 0u);
    return the != NULL ? EXIT_SUCCESS : EXIT_FAILURE;
}

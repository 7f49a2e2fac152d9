/* A fixed-size ring buffer and a tiny command interpreter: structs, switch fall-through, goto. */
#include <stdio.h>
#include <string.h>

#define CAPACITY 8

typedef struct {
    int items[CAPACITY];
    size_t head;
    size_t count;
} ring_buffer;

static int ring_push(ring_buffer *rb, int value) {
    if (rb->count == CAPACITY) {
        return -1;
    }
    rb->items[(rb->head + rb->count) % CAPACITY] = value;
    rb->count++;
    return 0;
}

static int ring_pop(ring_buffer *rb, int *out) {
    if (rb->count == 0) {
        return -1;
    }
    *out = rb->items[rb->head];
    rb->head = (rb->head + 1) % CAPACITY;
    rb->count--;
    return 0;
}

static int run(ring_buffer *rb, const char *program) {
    int value = 0, total = 0;
    for (const char *p = program; *p != '\0'; p++) {
        switch (*p) {
        case ' ':
            continue;
        case 'd':
            if (ring_push(rb, value) != 0) goto overflow;
            /* fall through */
        case 'p':
            if (ring_push(rb, value) != 0) goto overflow;
            break;
        case 'x':
            while (ring_pop(rb, &value) == 0) {
                total += value;
            }
            break;
        case 'q':
            return total;
        default:
            if (*p >= '0' && *p <= '9') {
                value = value * 10 + (*p - '0');
            } else {
                value = 0;
            }
        }
    }
    return total;
overflow:
    fprintf(stderr, "overflow after %zu items\n", rb->count);
    return -1;
}

int main(void) {
    ring_buffer rb;
    memset(&rb, 0, sizeof rb);
    printf("%d\n", run(&rb, "3p 4d x q"));
    return 0;
}

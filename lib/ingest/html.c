/* html.c — readable text of an HTML article through gumbo (a full HTML5
 * parser: entities, broken markup and implied tags as browsers do them).
 * docs/INGEST.md, "HTML", gives the rules: title from the first <title>;
 * body text without tags nor the content of script, style, noscript,
 * template and head; block elements become line breaks so that words from
 * adjacent blocks ("<p>end</p><p>start") never glue into one term. */
#include "ingest/ingest.h"

#include <gumbo.h>
#include <string.h>

/* Accumulates text with white space collapsed: a run of spaces becomes one
 * space, a block boundary one newline, nothing at the start or the end. */
typedef struct text_sink {
    nx_buf *out;
    size_t start_len;  /* out->len when the sink started (out may hold data) */
    int pending;       /* 0 none, 1 space, 2 newline */
} text_sink;

static bool is_ascii_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static int sink_text(text_sink *s, const char *p, size_t n) {
    for (size_t i = 0; i < n;) {
        if (is_ascii_space((unsigned char)p[i])) {
            if (s->pending < 1) s->pending = 1;
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_ascii_space((unsigned char)p[j])) j++;
        if (s->pending && s->out->len > s->start_len)
            NX_FORWARD(nx_buf_putc(s->out, s->pending == 2 ? '\n' : ' '));
        s->pending = 0;
        NX_FORWARD(nx_buf_append(s->out, p + i, j - i));
        i = j;
    }
    return 0;
}

static void sink_break(text_sink *s) { s->pending = 2; }

static bool is_block(GumboTag tag) {
    switch (tag) {
    case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_BR: case GUMBO_TAG_LI:
    case GUMBO_TAG_UL: case GUMBO_TAG_OL: case GUMBO_TAG_DL: case GUMBO_TAG_DT:
    case GUMBO_TAG_DD: case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3:
    case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6: case GUMBO_TAG_TR:
    case GUMBO_TAG_TD: case GUMBO_TAG_TH: case GUMBO_TAG_TABLE:
    case GUMBO_TAG_CAPTION: case GUMBO_TAG_THEAD: case GUMBO_TAG_TBODY:
    case GUMBO_TAG_TFOOT: case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_PRE:
    case GUMBO_TAG_HR: case GUMBO_TAG_ARTICLE: case GUMBO_TAG_SECTION:
    case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER: case GUMBO_TAG_NAV:
    case GUMBO_TAG_ASIDE: case GUMBO_TAG_MAIN: case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_ADDRESS: case GUMBO_TAG_FORM:
    case GUMBO_TAG_FIELDSET: case GUMBO_TAG_LEGEND: case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_SUMMARY: case GUMBO_TAG_BODY: case GUMBO_TAG_OPTION:
    case GUMBO_TAG_TEXTAREA: case GUMBO_TAG_CENTER:
        return true;
    default:
        return false;
    }
}

static bool is_skipped(GumboTag tag) {
    return tag == GUMBO_TAG_SCRIPT || tag == GUMBO_TAG_STYLE ||
           tag == GUMBO_TAG_NOSCRIPT || tag == GUMBO_TAG_TEMPLATE ||
           tag == GUMBO_TAG_HEAD || tag == GUMBO_TAG_TITLE;
}

/* Text of the first HTML <title> anywhere in the tree (depth-first). */
static const GumboNode *find_title(const GumboNode *root, nx_buf *stack) {
    stack->len = 0;
    if (nx_buf_append(stack, &root, sizeof root)) return NULL;
    while (stack->len) {
        const GumboNode *node;
        stack->len -= sizeof node;
        memcpy(&node, stack->data + stack->len, sizeof node);
        const GumboVector *children;
        if (node->type == GUMBO_NODE_DOCUMENT) {
            children = &node->v.document.children;
        } else if (node->type == GUMBO_NODE_ELEMENT) {
            const GumboElement *el = &node->v.element;
            if (el->tag == GUMBO_TAG_TITLE && el->tag_namespace == GUMBO_NAMESPACE_HTML)
                return node;
            children = &el->children;
        } else {
            continue;
        }
        /* push children in reverse so the first child is visited first */
        for (size_t i = children->length; i-- > 0;) {
            const GumboNode *child = children->data[i];
            if (nx_buf_append(stack, &child, sizeof child)) return NULL;
        }
    }
    return NULL;
}

/* One frame of the explicit walk: deep nesting in hostile HTML must not
 * overflow the C stack. */
typedef struct walk_frame {
    const GumboNode *node;
    size_t next_child;
} walk_frame;

static int walk_body(const GumboNode *root, nx_buf *stack, text_sink *sink) {
    stack->len = 0;
    walk_frame f0 = {root, 0};
    NX_FORWARD(nx_buf_append(stack, &f0, sizeof f0));
    while (stack->len) {
        walk_frame *top = (walk_frame *)(stack->data + stack->len - sizeof *top);
        const GumboNode *node = top->node;
        if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_CDATA ||
            node->type == GUMBO_NODE_WHITESPACE) {
            NX_FORWARD(sink_text(sink, node->v.text.text, strlen(node->v.text.text)));
            stack->len -= sizeof *top;
            continue;
        }
        if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_DOCUMENT) {
            stack->len -= sizeof *top; /* comments, templates */
            continue;
        }
        const GumboVector *children = node->type == GUMBO_NODE_DOCUMENT
                                          ? &node->v.document.children
                                          : &node->v.element.children;
        bool block = node->type == GUMBO_NODE_ELEMENT && is_block(node->v.element.tag);
        if (top->next_child == 0) {
            if (node->type == GUMBO_NODE_ELEMENT && is_skipped(node->v.element.tag)) {
                stack->len -= sizeof *top;
                continue;
            }
            if (block) sink_break(sink);
        }
        if (top->next_child < children->length) {
            walk_frame child = {children->data[top->next_child++], 0};
            NX_FORWARD(nx_buf_append(stack, &child, sizeof child)); /* may move top */
            continue;
        }
        if (block) sink_break(sink);
        stack->len -= sizeof *top;
    }
    return 0;
}

int nx_html_extract(const char *html, size_t len, nx_buf *title, nx_buf *text) {
    GumboOptions options = kGumboDefaultOptions;
    /* The errors vector is useless here and unbounded by default. */
    options.max_errors = 0;
    /* gumbo aborts on allocation failure itself: nothing to catch here. */
    GumboOutput *output = gumbo_parse_with_options(&options, html, len);
    if (!output) return NEWSIDX_ERR_NOMEM;
    nx_buf stack = {0};
    int rc = 0;
    const GumboNode *title_node = find_title(output->document, &stack);
    if (title_node) {
        text_sink ts = {title, title->len, 0};
        const GumboVector *kids = &title_node->v.element.children;
        for (size_t i = 0; i < kids->length && rc == 0; i++) {
            const GumboNode *k = kids->data[i];
            if (k->type == GUMBO_NODE_TEXT || k->type == GUMBO_NODE_WHITESPACE ||
                k->type == GUMBO_NODE_CDATA)
                rc = sink_text(&ts, k->v.text.text, strlen(k->v.text.text));
        }
    }
    if (rc == 0) {
        text_sink bs = {text, text->len, 0};
        rc = walk_body(output->document, &stack, &bs);
    }
    if (rc == 0) rc = nx_buf_reserve(title, 1);
    if (rc == 0) rc = nx_buf_reserve(text, 1);
    if (rc == 0) {
        title->data[title->len] = '\0';
        text->data[text->len] = '\0';
    }
    nx_buf_free(&stack);
    gumbo_destroy_output(&options, output);
    return rc;
}

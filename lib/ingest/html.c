/* html.c — readable text of an HTML article through gumbo (a full HTML5
 * parser: entities, broken markup and implied tags as browsers do them).
 * docs/INGEST.md, "HTML", gives the rules: title from og:title, <title> or
 * <h1>; author and date from the meta tags news sites write for social
 * networks and search engines (Open Graph, JSON-LD), or <time>; body text
 * from the article's own element when the page marks one, without the
 * page's navigation, header, footer and asides, nor the content of script,
 * style, noscript, template and head; block elements become line breaks
 * so that words from adjacent blocks ("<p>end</p><p>start") never glue
 * into one term. */
#include "ingest/ingest.h"

#include <gumbo.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

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

/* The parts of a news page around the article: menus, mastheads, related
 * links, newsletter forms. */
static bool is_boilerplate(GumboTag tag) {
    return tag == GUMBO_TAG_NAV || tag == GUMBO_TAG_HEADER || tag == GUMBO_TAG_FOOTER ||
           tag == GUMBO_TAG_ASIDE || tag == GUMBO_TAG_FORM || tag == GUMBO_TAG_BUTTON ||
           tag == GUMBO_TAG_SELECT || tag == GUMBO_TAG_IFRAME || tag == GUMBO_TAG_SVG;
}

/* What an element visitor tells each_element; errors are negative. */
enum { VISIT_CHILDREN, VISIT_SKIP_CHILDREN, VISIT_STOP };
typedef int (*element_visit_fn)(void *ctx, const GumboNode *element);

/* Calls visit on each element under root in document order (depth first,
 * a parent before its children). The stack is explicit: deep nesting in
 * hostile HTML must not overflow the C stack.
 * @return 0, or a negative NEWSIDX_ERR_* from the stack or the visitor. */
static int each_element(const GumboNode *root, nx_buf *stack, element_visit_fn visit,
                        void *ctx) {
    stack->len = 0;
    NX_FORWARD(nx_buf_append(stack, &root, sizeof root));
    while (stack->len) {
        const GumboNode *node;
        stack->len -= sizeof node;
        memcpy(&node, stack->data + stack->len, sizeof node);
        const GumboVector *children;
        if (node->type == GUMBO_NODE_DOCUMENT) {
            children = &node->v.document.children;
        } else if (node->type == GUMBO_NODE_ELEMENT) {
            int v = visit(ctx, node);
            if (v < 0) return v;
            if (v == VISIT_STOP) return 0;
            if (v == VISIT_SKIP_CHILDREN) continue;
            children = &node->v.element.children;
        } else {
            continue;
        }
        /* reverse order: the first child comes off the stack first, so
         * "the first <title>", "the first <time>" mean document order */
        for (size_t i = children->length; i-- > 0;) {
            const GumboNode *child = children->data[i];
            NX_FORWARD(nx_buf_append(stack, &child, sizeof child));
        }
    }
    return 0;
}

/* Keeps the first HTML <title> (ctx: const GumboNode **). */
static int find_title(void *ctx, const GumboNode *node) {
    const GumboElement *el = &node->v.element;
    if (el->tag != GUMBO_TAG_TITLE || el->tag_namespace != GUMBO_NAMESPACE_HTML)
        return VISIT_CHILDREN;
    *(const GumboNode **)ctx = node;
    return VISIT_STOP;
}

/* One frame of the explicit walk: deep nesting in hostile HTML must not
 * overflow the C stack. */
typedef struct walk_frame {
    const GumboNode *node;
    size_t next_child;
} walk_frame;

static int walk_body(const GumboNode *root, nx_buf *stack, text_sink *sink,
                     bool drop_boilerplate) {
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
            /* the root itself is never skipped: the caller chose it */
            if (node->type == GUMBO_NODE_ELEMENT && node != root &&
                (is_skipped(node->v.element.tag) ||
                 (drop_boilerplate && is_boilerplate(node->v.element.tag)))) {
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

/* ---- nesting: what gumbo is given ------------------------------------------ */

/* gumbo (0.10) has no depth limit and frees its tree recursively: 300,000
 * nested elements (2.7 MB) overflowed an 8 MB stack, and parsing nested
 * elements costs time quadratic in the depth (80,000 <div>: 21 s). A
 * browser stops nesting at a few hundred (Blink: 512); here start tags
 * deeper than this are left out of what gumbo parses, their text kept. */
#define HTML_MAX_DEPTH 4096
/* How far down the open elements an end tag looks for its start tag. */
#define HTML_END_TAG_REACH 256

static bool ascii_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

/* White space between a tag's name and attributes, as HTML's tokenizer has
 * it (not \v: "<div\v>" is an element named "div\v", not a <div>). */
static bool tag_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* Whether the tag name p[0..n) is one of names (ASCII case-insensitive). */
static bool name_in(const char *p, size_t n, const char *const *names) {
    for (; *names; names++)
        if (strlen(*names) == n && strncasecmp(p, *names, n) == 0) return true;
    return false;
}

/* Elements that never hold others (void) or that the next of their kind
 * closes wherever they are (p, li, td...; not optgroup nor the ruby
 * elements, which nest outside a select or a ruby): neither deepens the
 * tree. */
static const char *const flat_tags[] = {
    "area", "base",  "br",     "col",   "embed", "hr",    "img",      "input", "keygen", "link",
    "meta", "param", "source", "track", "wbr",   "p",     "li",       "dt",    "dd",     "tr",
    "td",   "th",    "option", "thead", "tbody", "tfoot", "colgroup", NULL};
/* Elements whose content is text up to their end tag. */
static const char *const raw_tags[] = {"script",   "style",    "xmp",   "iframe", "noembed",
                                       "noframes", "textarea", "title", NULL};

/* Formatting elements: the parser remembers each one left open, re-opens
 * all of them, nested, wherever text follows the element that closed them
 * ("<b><i></b>x" 300,000 times: over 90 s, quadratic), and at every
 * character of text looks the last one up in the stack of open elements
 * from its bottom (4000 <div>s, a <b> and 3 MB of text: 4 s). Nothing
 * here reads them, so gumbo is given <span> instead: an inline element
 * like them, which nests and closes as the depth below follows. */
static const char *const formatting_tags[] = {"a",      "b",      "big",  "code", "em",
                                              "font",   "i",      "nobr", "s",    "small",
                                              "strike", "strong", "tt",   "u",    NULL};
/* Start tags that end svg or math content in the parser (and <font> with
 * attributes, not followed here). */
static const char *const breakout_tags[] = {
    "b",      "big",  "blockquote", "body",  "br",   "center", "code",    "dd",   "div",
    "dl",     "dt",   "em",         "embed", "h1",   "h2",     "h3",      "h4",   "h5",
    "h6",     "head", "hr",         "i",     "img",  "li",     "listing", "menu", "meta",
    "nobr",   "ol",   "p",          "pre",   "ruby", "s",      "small",   "span", "strong",
    "strike", "sub",  "sup",        "table", "tt",   "u",      "ul",      "var",  NULL};

/* How an element on the stack of open elements stops an end tag looking
 * down for its start tag (HTML's tree construction, "in body"): an end
 * tag of an ordinary element ("any other end tag": <span>, the formatting
 * elements given as <span>, unknown names) is ignored when a special
 * element is above its match; an end tag of a special element ("has an
 * element in scope") when a scope boundary is. Each ignored end tag
 * leaves the parser a level deeper than a pass that took it: 300,000
 * "<span><div></span>x" nested 600,000 deep, and every <div> looked for
 * a <p> through all of them (quadratic: minutes for a 4 MB page). */
enum { TAG_ORDINARY, TAG_SPECIAL, TAG_SCOPE };

/* An element the depth pass holds open. */
typedef struct open_element {
    uint32_t hash, len; /* of its name */
    uint8_t cls;        /* tag_class */
    const char *name;   /* in the page, or "span" for a formatting element */
} open_element;

/* The special elements the pass may hold open (the flat and raw text
 * ones never are; gumbo 0.10's list, and newer ones) that are not scope
 * boundaries. */
static const char *const special_tags[] = {
    "address",  "article",    "aside",   "basefont",  "bgsound", "blockquote", "body",
    "button",   "center",     "details", "dialog",    "dir",     "div",        "dl",
    "fieldset", "figcaption", "figure",  "footer",    "form",    "frame",      "frameset",
    "h1",       "h2",         "h3",      "h4",        "h5",      "h6",         "head",
    "header",   "hgroup",     "isindex", "listing",   "main",    "menu",       "menuitem",
    "nav",      "noscript",   "ol",      "plaintext", "pre",     "search",     "section",
    "select",   "summary",    "ul",      NULL};
/* Scope boundaries (special too): MathML's and SVG's text integration
 * points included, whatever the namespace (taken for one, an element
 * makes the depth deeper than the parser's, never shallower). */
static const char *const scope_tags[] = {
    "applet", "caption", "html", "marquee", "object",         "table",         "template", "mi",
    "mo",     "mn",      "ms",   "mtext",   "annotation-xml", "foreignobject", "desc",     NULL};

/* End tags the parser takes when their element is "in scope" (a scope
 * boundary stops them), in the spec and in gumbo 0.10 alike; any other
 * end tag is taken here only when no special element is above its match
 * (for a <form>, a <table> or a <body>, which the parser closes otherwise,
 * that makes the depth deeper than the parser's, never shallower). */
static const char *const scoped_end_tags[] = {
    "address", "applet", "article", "aside",   "blockquote", "button",     "center",
    "details", "dir",    "div",     "dl",      "fieldset",   "figcaption", "figure",
    "footer",  "h1",     "h2",      "h3",      "h4",         "h5",         "h6",
    "header",  "hgroup", "listing", "marquee", "menu",       "nav",        "object",
    "ol",      "pre",    "section", "summary", "ul",         NULL};

/* The class of the element named p[0..n). */
static uint8_t tag_class(const char *p, size_t n) {
    return name_in(p, n, scope_tags)     ? TAG_SCOPE
           : name_in(p, n, special_tags) ? TAG_SPECIAL
                                         : TAG_ORDINARY;
}

static uint32_t tag_hash(const char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ ((unsigned char)p[i] | 0x20)) * 16777619u;
    return h;
}

/* Finds the end tag "</name" (case-insensitive) from `from`, the name
 * ended by white space, '/' or '>' as the tokenizer has it ("</scriptx>"
 * does not end a script: taken for its end, the page's next "</div>" was
 * read as a tag where the parser reads text); len when absent. */
static size_t find_end_tag(const char *html, size_t len, size_t from, const char *name, size_t n) {
    for (size_t i = from; i + 2 + n <= len; i++) {
        const char *lt = memchr(html + i, '<', len - i);
        if (!lt) break;
        i = (size_t)(lt - html);
        if (i + 3 + n <= len && html[i + 1] == '/' && strncasecmp(html + i + 2, name, n) == 0 &&
            (tag_space(html[i + 2 + n]) || html[i + 2 + n] == '/' || html[i + 2 + n] == '>'))
            return i;
    }
    return len;
}

/* Finds the end of a script's text from `from`: its "</script" end tag,
 * as the tokenizer's script states have it. After "<!--", a "<script"
 * makes the text "double escaped", where "</script" does not end it
 * until "-->" or a "</script" has ended the inner one (taken at the
 * first "</script", a page's "</div>" after it was read as a tag where
 * the parser reads text). len when absent. */
static size_t find_script_end(const char *html, size_t len, size_t from) {
    enum { DATA, ESCAPED, DOUBLE } state = DATA;
    for (size_t i = from; i < len; i++) {
        const char *p = html + i;
        size_t left = len - i;
        if (*p == '-' && left >= 3 && p[1] == '-' && p[2] == '>') {
            if (state != DATA) state = DATA;
            i += 2;
        } else if (*p == '<' && left >= 4 && memcmp(p, "<!--", 4) == 0) {
            if (state == DATA) state = ESCAPED;
            i += 1; /* its "--" may begin "-->" ("<!-->") */
        } else if (*p == '<' && left >= 8 && (p[1] == '/' || state == ESCAPED) &&
                   strncasecmp(p + 1 + (p[1] == '/'), "script", 6) == 0 &&
                   (left > 7 + (p[1] == '/')
                        ? (tag_space(p[7 + (p[1] == '/')]) || p[7 + (p[1] == '/')] == '/' ||
                           p[7 + (p[1] == '/')] == '>')
                        : false)) {
            if (p[1] != '/') state = DOUBLE;    /* "<script" in escaped text */
            else if (state != DOUBLE) return i; /* the end tag */
            else state = ESCAPED;               /* ends the inner script */
            i += 7;
        }
    }
    return len;
}

/* The copy of the page gumbo parses, made as edits come: the bytes of
 * html[done..upto) go in as they are. */
typedef struct page_copy {
    const char *html;
    nx_buf *out;
    size_t done;
    bool made;
} page_copy;

static int copy_upto(page_copy *c, size_t upto) {
    c->made = true;
    NX_FORWARD(nx_buf_append(c->out, c->html + c->done, upto - c->done));
    c->done = upto;
    return 0;
}

/* Puts `with` (n bytes, or n blanks when with is NULL) in the copy in
 * place of html[from..to). */
static int replace(page_copy *c, size_t from, size_t to, const char *with, size_t n) {
    NX_FORWARD(copy_upto(c, from));
    if (with) NX_FORWARD(nx_buf_append(c->out, with, n));
    else
        for (size_t k = 0; k < n; k++) NX_FORWARD(nx_buf_putc(c->out, ' '));
    c->done = to;
    return 0;
}

/* The '>' of the tag whose name ends at ne (len when the page ends
 * first), through its attributes as the tokenizer goes: a '/' right
 * before '>' makes it self-closing, one in an unquoted value does not. */
static size_t tag_close(const char *html, size_t len, size_t ne, bool *self_closing) {
    size_t j = ne;
    *self_closing = false;
    while (j < len && html[j] != '>') {
        if (tag_space(html[j])) {
            j++;
        } else if (html[j] == '/') {
            *self_closing = ++j < len && html[j] == '>';
        } else {
            j++; /* an attribute name runs to space, '/', '>' or '=' */
            while (j < len && !tag_space(html[j]) && html[j] != '/' && html[j] != '>' &&
                   html[j] != '=')
                j++;
            while (j < len && tag_space(html[j])) j++;
            if (j >= len || html[j] != '=') continue;
            j++;
            while (j < len && tag_space(html[j])) j++;
            if (j < len && (html[j] == '"' || html[j] == '\'')) {
                const char *q = memchr(html + j + 1, html[j], len - j - 1);
                j = q ? (size_t)(q - html) + 1 : len;
            } else {
                while (j < len && !tag_space(html[j]) && html[j] != '>') j++;
            }
        }
    }
    return j;
}

/* Follows the open elements of html's tags roughly as a parser would
 * (start tags open, end tags close down to their match, void and
 * self-closing elements and those their next sibling closes do not nest,
 * raw text and comments hold no tags) and makes the copy gumbo parses
 * (*copy; *made when there is one): formatting tags become <span> and
 * </span> (formatting_tags), and a start tag that would open an element
 * deeper than HTML_MAX_DEPTH is blanked (*cut: the byte of the first). The
 * text between the tags is kept. 0 or NOMEM. */
static int flatten_deep(const char *html, size_t len, nx_buf *copy, size_t *cut, bool *made) {
    open_element *open = malloc(sizeof *open * HTML_MAX_DEPTH);
    if (!open) return NEWSIDX_ERR_NOMEM;
    static const char span[] = "span";
    const uint32_t span_hash = tag_hash(span, 4);
    page_copy c = {html, copy, 0, false};
    copy->len = 0;
    size_t depth = 0, foreign = 0; /* foreign: depth of the <svg>/<math> we are in, + 1 */
    /* select: the same of the <select>, where the parser ignores the start
     * tags of raw text elements but <script> (a <select> the parser
     * closes otherwise, by an <input>, stays here: then tags in raw text
     * are counted, which makes the depth deeper, never shallower) */
    size_t select = 0;
    *cut = SIZE_MAX;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        const char *lt = memchr(html + i, '<', len - i);
        if (!lt) break;
        i = (size_t)(lt - html);
        if (i + 1 >= len) break;
        if (len - i >= 4 && memcmp(html + i, "<!--", 4) == 0) {
            /* "<!-->" and "<!--->" end at once; else "-->" or "--!>" */
            size_t k = i + 4;
            if (k < len && html[k] == '>') {
                i = k + 1;
            } else if (len - k >= 2 && html[k] == '-' && html[k + 1] == '>') {
                i = k + 2;
            } else {
                const char *e = memmem(html + k, len - k, "--", 2);
                while (e && !((size_t)(e - html) + 2 < len && html[e - html + 2] == '>') &&
                       !((size_t)(e - html) + 3 < len && html[e - html + 2] == '!' &&
                         html[e - html + 3] == '>'))
                    e = memmem(e + 1, len - (size_t)(e + 1 - html), "--", 2);
                i = !e ? len : (size_t)(e - html) + (html[e - html + 2] == '>' ? 3 : 4);
            }
            continue;
        }
        if (foreign && len - i >= 9 && memcmp(html + i, "<![CDATA[", 9) == 0) {
            /* text up to "]]>" in svg and math (elsewhere a bogus comment) */
            const char *e = memmem(html + i + 9, len - i - 9, "]]>", 3);
            i = e ? (size_t)(e - html) + 3 : len;
            continue;
        }
        if (html[i + 1] == '!' || html[i + 1] == '?') {
            const char *e = memchr(html + i, '>', len - i);
            i = e ? (size_t)(e - html) + 1 : len;
            continue;
        }
        bool end_tag = html[i + 1] == '/';
        size_t ns = i + 1 + end_tag, ne = ns;
        if (ns >= len || !ascii_alpha((unsigned char)html[ns])) {
            i++;
            continue;
        }
        while (ne < len && !tag_space(html[ne]) && html[ne] != '/' && html[ne] != '>') ne++;
        bool self_closing;
        size_t j = tag_close(html, len, ne, &self_closing);
        if (j >= len) break; /* a tag the page ends inside: the tokenizer drops it */
        size_t next = j + 1, n = ne - ns;
        uint32_t h = tag_hash(html + ns, n);
        const char *name = html + ns; /* as gumbo is given it */
        /* in svg and math, <a> is theirs; any other formatting tag is
         * one that ends them, as <span> does */
        bool formatting = name_in(html + ns, n, formatting_tags) &&
                          !(foreign && n == 1 && (html[ns] | 0x20) == 'a');
        if (formatting) h = span_hash, name = span;
        size_t name_n = formatting ? 4 : n;
        if (foreign && !end_tag && name_in(html + ns, n, breakout_tags)) foreign = 0;
        if (!formatting && name_in(html + ns, n, flat_tags)) {
            i = next;
        } else if (end_tag) {
            /* in svg and math an end tag closes down to its match */
            uint8_t stop = foreign                                                 ? UINT8_MAX
                           : !formatting && name_in(html + ns, n, scoped_end_tags) ? TAG_SCOPE
                                                                                   : TAG_SPECIAL;
            for (size_t k = depth; k-- > 0 && depth - k <= HTML_END_TAG_REACH;) {
                if (open[k].hash == h && open[k].len == name_n &&
                    strncasecmp(open[k].name, name, name_n) == 0) {
                    depth = k;
                    if (foreign > depth) foreign = 0;
                    if (select > depth) select = 0;
                    break;
                }
                if (open[k].cls >= stop) break; /* the parser ignores this end tag */
            }
            if (formatting) rc = replace(&c, i, next, "</span>", 7);
            i = next;
        } else if (select && !foreign && !(n == 6 && strncasecmp(html + ns, "script", 6) == 0) &&
                   (name_in(html + ns, n, raw_tags) ||
                    (n == 9 && strncasecmp(html + ns, "plaintext", 9) == 0))) {
            i = next; /* in a select, the parser ignores them: no raw text */
        } else if (!foreign && name_in(html + ns, n, raw_tags)) {
            /* (in svg and math they are elements as any other) */
            i = n == 6 && strncasecmp(html + ns, "script", 6) == 0
                    ? find_script_end(html, len, next)
                    : find_end_tag(html, len, next, html + ns, n);
        } else if (!foreign && n == 9 && strncasecmp(html + ns, "plaintext", 9) == 0) {
            break; /* the rest of the document is text */
        } else if (self_closing && foreign) {
            i = next; /* in svg and math, "/>" closes */
        } else if (depth < HTML_MAX_DEPTH) {
            open[depth++] = (open_element){
                h, (uint32_t)name_n, formatting ? TAG_ORDINARY : tag_class(html + ns, n), name};
            if (!foreign && (name_in(html + ns, n, (const char *const[]){"svg", "math", NULL})))
                foreign = depth;
            if (!foreign && !select && n == 6 && strncasecmp(html + ns, "select", 6) == 0)
                select = depth;
            if (formatting) rc = replace(&c, i, next, "<span>", 6);
            i = next;
        } else {
            if (*cut == SIZE_MAX) *cut = i;
            rc = replace(&c, i, next, NULL, next - i);
            i = next;
        }
    }
    if (rc == 0 && c.made) rc = copy_upto(&c, len);
    *made = c.made;
    free(open);
    return rc;
}

/* The HTML gumbo is to parse: flatten_deep's copy (its buffer in *copy,
 * freed by the caller), or html itself when it needed no edit; *cut as
 * flatten_deep's. */
static int html_to_parse(const char **html, size_t *len, nx_buf *copy, size_t *cut) {
    bool made;
    NX_FORWARD(flatten_deep(*html, *len, copy, cut, &made));
    if (made) {
        *html = (const char *)copy->data;
        *len = copy->len;
    }
    return 0;
}

static int extract_here(const char *html, size_t len, nx_buf *title, nx_buf *text) {
    GumboOptions options = kGumboDefaultOptions;
    /* The errors vector is useless here and unbounded by default. */
    options.max_errors = 0;
    nx_buf flat = {0};
    size_t cut;
    NX_FORWARD(html_to_parse(&html, &len, &flat, &cut));
    /* gumbo aborts on allocation failure itself: nothing to catch here. */
    GumboOutput *output = gumbo_parse_with_options(&options, html, len);
    if (!output) {
        nx_buf_free(&flat);
        return NEWSIDX_ERR_NOMEM;
    }
    nx_buf stack = {0};
    const GumboNode *title_node = NULL;
    int rc = each_element(output->document, &stack, find_title, &title_node);
    if (rc == 0 && title_node) {
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
        rc = walk_body(output->document, &stack, &bs, false);
    }
    if (rc == 0) rc = nx_buf_reserve(title, 1);
    if (rc == 0) rc = nx_buf_reserve(text, 1);
    if (rc == 0) {
        title->data[title->len] = '\0';
        text->data[text->len] = '\0';
    }
    nx_buf_free(&stack);
    gumbo_destroy_output(&options, output);
    nx_buf_free(&flat);
    return rc;
}

/* ---- news pages: metadata and the article's own text -------------------- */

void nx_html_article_free(nx_html_article *a) {
    nx_buf_free(&a->title);
    nx_buf_free(&a->author);
    nx_buf_free(&a->date);
    nx_buf_free(&a->text);
}

/* Candidates seen while walking the page once, best source first. */
typedef struct page_scan {
    const char *og_title, *meta_author, *meta_date, *ld_author_src, *time_date;
    const GumboNode *title, *h1, *main, *body;
    nx_buf articles; /* every <article> element (const GumboNode *) */
    nx_buf ld;       /* text of the JSON-LD scripts, each NUL-terminated */
} page_scan;

static const char *attr(const GumboElement *el, const char *name) {
    const GumboAttribute *a = gumbo_get_attribute(&el->attributes, name);
    return a ? a->value : NULL;
}

/* Which meta names give what: property (Open Graph) or name. */
static void scan_meta(page_scan *p, const GumboElement *el) {
    const char *key = attr(el, "property");
    if (!key) key = attr(el, "name");
    if (!key) key = attr(el, "itemprop");
    const char *content = attr(el, "content");
    if (!key || !content || !content[0]) return;
    if (!p->og_title && strcasecmp(key, "og:title") == 0) p->og_title = content;
    else if (strcasecmp(key, "article:published_time") == 0 ||
             strcasecmp(key, "og:article:published_time") == 0 ||
             strcasecmp(key, "datePublished") == 0)
        p->meta_date = content; /* these three outrank the looser names below */
    else if (!p->meta_date && (strcasecmp(key, "date") == 0 || strcasecmp(key, "pubdate") == 0 ||
                               strcasecmp(key, "publish-date") == 0 ||
                               strcasecmp(key, "parsely-pub-date") == 0 ||
                               strcasecmp(key, "dc.date.issued") == 0 ||
                               strcasecmp(key, "dc.date") == 0))
        p->meta_date = content;
    else if (strcasecmp(key, "author") == 0 || strcasecmp(key, "article:author") == 0 ||
             strcasecmp(key, "parsely-author") == 0 || strcasecmp(key, "dc.creator") == 0 ||
             strcasecmp(key, "byl") == 0) {
        /* article:author is often a profile URL: a name is better */
        bool url = strncmp(content, "http", 4) == 0;
        if (!p->meta_author || (!url && strncmp(p->meta_author, "http", 4) == 0))
            p->meta_author = content;
    }
}

/* Notes what one element of the page offers (ctx: page_scan *). */
static int scan_element(void *ctx, const GumboNode *node) {
    page_scan *p = ctx;
    const GumboElement *el = &node->v.element;
    if (el->tag_namespace != GUMBO_NAMESPACE_HTML) return VISIT_SKIP_CHILDREN; /* svg, math */
    switch (el->tag) {
    case GUMBO_TAG_META: scan_meta(p, el); break;
    case GUMBO_TAG_TITLE: if (!p->title) p->title = node; break;
    case GUMBO_TAG_H1: if (!p->h1) p->h1 = node; break;
    case GUMBO_TAG_MAIN: if (!p->main) p->main = node; break;
    case GUMBO_TAG_BODY: if (!p->body) p->body = node; break;
    case GUMBO_TAG_ARTICLE:
        NX_FORWARD(nx_buf_append(&p->articles, &node, sizeof node));
        break;
    case GUMBO_TAG_TIME: {
        const char *dt = attr(el, "datetime");
        if (!p->time_date && dt && dt[0]) p->time_date = dt;
        break;
    }
    case GUMBO_TAG_SCRIPT: {
        const char *type = attr(el, "type");
        if (type && strcasecmp(type, "application/ld+json") == 0) {
            for (size_t i = 0; i < el->children.length; i++) {
                const GumboNode *k = el->children.data[i];
                if (k->type == GUMBO_NODE_TEXT || k->type == GUMBO_NODE_WHITESPACE ||
                    k->type == GUMBO_NODE_CDATA)
                    NX_FORWARD(nx_buf_append(&p->ld, k->v.text.text, strlen(k->v.text.text)));
            }
            NX_FORWARD(nx_buf_putc(&p->ld, '\0'));
        }
        return VISIT_SKIP_CHILDREN; /* nothing else inside a script */
    }
    default: break;
    }
    return VISIT_CHILDREN;
}

/* The text of node's descendants, white space collapsed, into out. */
static int inline_text(const GumboNode *node, nx_buf *stack, nx_buf *out) {
    out->len = 0;
    text_sink ts = {out, 0, 0};
    NX_FORWARD(walk_body(node, stack, &ts, false));
    for (size_t i = 0; i < out->len; i++) /* a title is one line */
        if (out->data[i] == '\n') out->data[i] = ' ';
    return 0;
}

static int set_text(nx_buf *out, const char *s) {
    out->len = 0;
    text_sink ts = {out, 0, 0};
    return sink_text(&ts, s, strlen(s));
}

static bool is_article_type(json_t *type) {
    static const char *const types[] = {"NewsArticle", "Article", "ReportageNewsArticle",
                                        "BlogPosting", "AnalysisNewsArticle",
                                        "OpinionNewsArticle", "LiveBlogPosting", "WebPage"};
    size_t n = json_is_array(type) ? json_array_size(type) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_is_array(type) ? json_array_get(type, i) : type;
        if (!json_is_string(t)) continue;
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
            if (strcmp(json_string_value(t), types[k]) == 0) return true;
    }
    return false;
}

/* author: "Name", {"name": "Name"}, or a list of those, joined by ", ". */
static int ld_author(json_t *a, nx_buf *out) {
    size_t n = json_is_array(a) ? json_array_size(a) : 1;
    for (size_t i = 0; i < n && i < 16; i++) {
        json_t *one = json_is_array(a) ? json_array_get(a, i) : a;
        if (json_is_object(one)) one = json_object_get(one, "name");
        if (!json_is_string(one) || !json_string_length(one)) continue;
        if (out->len) NX_FORWARD(nx_buf_append(out, ", ", 2));
        NX_FORWARD(nx_buf_append(out, json_string_value(one), json_string_length(one)));
    }
    return 0;
}

/* Finds the article object of one JSON-LD block (top level, an array, or
 * its @graph) and takes what the page did not give by meta tags. */
static int scan_ld(json_t *v, nx_html_article *out, int depth) {
    if (depth > 3) return 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            NX_FORWARD(scan_ld(json_array_get(v, i), out, depth + 1));
        return 0;
    }
    if (!json_is_object(v)) return 0;
    json_t *graph = json_object_get(v, "@graph");
    if (graph) NX_FORWARD(scan_ld(graph, out, depth + 1));
    if (!is_article_type(json_object_get(v, "@type"))) return 0;
    json_t *date = json_object_get(v, "datePublished");
    if (!out->date.len && json_is_string(date)) NX_FORWARD(set_text(&out->date, json_string_value(date)));
    json_t *author = json_object_get(v, "author");
    if (!out->author.len && author) {
        nx_buf names = {0};
        int rc = ld_author(author, &names);
        if (rc == 0 && names.len) rc = nx_buf_putc(&names, '\0');
        if (rc == 0 && names.len) rc = set_text(&out->author, (const char *)names.data);
        nx_buf_free(&names);
        NX_FORWARD(rc);
    }
    json_t *headline = json_object_get(v, "headline");
    if (!out->title.len && json_is_string(headline))
        NX_FORWARD(set_text(&out->title, json_string_value(headline)));
    return 0;
}

/* The size of an element's text, to pick the article among several
 * <article> elements (teasers of related stories are <article> too). */
static size_t text_size(const GumboNode *node, nx_buf *stack, nx_buf *scratch) {
    scratch->len = 0;
    text_sink ts = {scratch, 0, 0};
    if (walk_body(node, stack, &ts, true)) return 0;
    return scratch->len;
}

static int terminate(nx_buf *b) {
    NX_FORWARD(nx_buf_reserve(b, 1));
    b->data[b->len] = '\0';
    return 0;
}

/* Whether an <article> lies inside another: its text is part of the
 * outer one's, so only outermost ones are sized (sizing each of 40,000
 * nested ones walked the rest of the page each time). */
static bool in_article(const GumboNode *node) {
    for (const GumboNode *p = node->parent; p; p = p->parent)
        if (p->type == GUMBO_NODE_ELEMENT && p->v.element.tag == GUMBO_TAG_ARTICLE) return true;
    return false;
}

static int article_extract_here(const char *html, size_t len, nx_html_article *out) {
    out->title.len = out->author.len = out->date.len = out->text.len = 0;
    out->flattened_at = SIZE_MAX;
    GumboOptions options = kGumboDefaultOptions;
    options.max_errors = 0;
    nx_buf flat = {0};
    NX_FORWARD(html_to_parse(&html, &len, &flat, &out->flattened_at));
    GumboOutput *output = gumbo_parse_with_options(&options, html, len);
    if (!output) {
        nx_buf_free(&flat);
        return NEWSIDX_ERR_NOMEM;
    }
    nx_buf stack = {0};
    page_scan p = {0};
    int rc = each_element(output->document, &stack, scan_element, &p);
    /* meta tags first: they are what the site itself says the article is */
    if (rc == 0 && p.og_title) rc = set_text(&out->title, p.og_title);
    if (rc == 0 && p.meta_author) rc = set_text(&out->author, p.meta_author);
    if (rc == 0 && p.meta_date) rc = set_text(&out->date, p.meta_date);
    /* JSON-LD fills what is still missing */
    for (size_t off = 0; rc == 0 && off < p.ld.len;) {
        const char *js = (const char *)p.ld.data + off;
        size_t n = strlen(js);
        off += n + 1;
        json_t *v = json_loadb(js, n, JSON_DECODE_ANY, NULL);
        if (v) rc = scan_ld(v, out, 0);
        json_decref(v);
    }
    if (rc == 0 && !out->title.len && p.title) rc = inline_text(p.title, &stack, &out->title);
    if (rc == 0 && !out->title.len && p.h1) rc = inline_text(p.h1, &stack, &out->title);
    if (rc == 0 && !out->date.len && p.time_date) rc = set_text(&out->date, p.time_date);
    const GumboNode *root = NULL;
    size_t n_articles = p.articles.len / sizeof root;
    if (n_articles == 1) {
        memcpy(&root, p.articles.data, sizeof root);
    } else if (n_articles > 1) {
        size_t best = 0;
        nx_buf scratch = {0};
        for (size_t i = 0; i < n_articles && rc == 0; i++) {
            const GumboNode *a;
            memcpy(&a, p.articles.data + i * sizeof a, sizeof a);
            if (in_article(a)) continue;
            size_t sz = text_size(a, &stack, &scratch);
            if (sz > best || !root) {
                best = sz;
                root = a;
            }
        }
        nx_buf_free(&scratch);
    }
    if (!root) root = p.main;
    bool marked = root != NULL;
    if (!root) root = p.body ? p.body : output->document;
    if (rc == 0) {
        text_sink ts = {&out->text, 0, 0};
        rc = walk_body(root, &stack, &ts, true);
        /* a page whose article sits inside a <header> or an <aside>: better
         * the whole page than nothing */
        if (rc == 0 && !out->text.len) {
            ts = (text_sink){&out->text, 0, 0};
            rc = walk_body(marked ? root : output->document, &stack, &ts, false);
        }
    }
    if (rc == 0) rc = terminate(&out->title);
    if (rc == 0) rc = terminate(&out->author);
    if (rc == 0) rc = terminate(&out->date);
    if (rc == 0) rc = terminate(&out->text);
    nx_buf_free(&stack);
    nx_buf_free(&p.articles);
    nx_buf_free(&p.ld);
    gumbo_destroy_output(&options, output);
    nx_buf_free(&flat);
    return rc;
}

/* ---- a stack for the parser --------------------------------------------------- */

/* gumbo (0.10) frees its tree recursively, a frame (~30 bytes) per level,
 * and so destroys a body that a late <frameset> replaces: 300,000 levels
 * overflow an 8 MB stack. The depth pass keeps pages shallow, following
 * the misnestings the tree builder repeats that two reviews found, but
 * it is not the parser: for one not found yet, a document that could
 * nest that deep is parsed on a
 * thread whose stack holds any depth its size allows (a level takes at
 * least 2 bytes of input); the stack is address space, touched only as
 * deep as the tree goes. */
#define HTML_OWN_STACK_FROM ((size_t)64 << 10)
#define HTML_STACK_PER_BYTE 32
#define HTML_STACK_MAX ((size_t)4 << 30)

typedef struct html_job {
    const char *html;
    size_t len;
    nx_buf *title, *text;     /* nx_html_extract's */
    nx_html_article *article; /* nx_html_article_extract's */
    int rc;
} html_job;

static void *html_job_run(void *arg) {
    html_job *j = arg;
    j->rc = j->article ? article_extract_here(j->html, j->len, j->article)
                       : extract_here(j->html, j->len, j->title, j->text);
    return NULL;
}

/* Runs the job here, or for a document of HTML_OWN_STACK_FROM bytes or
 * more on a thread of its own stack (here when no such thread can be
 * made: as before). */
static int html_job_do(html_job *j) {
    if (j->len < HTML_OWN_STACK_FROM) {
        html_job_run(j);
        return j->rc;
    }
    size_t stack = ((size_t)16 << 20) + (j->len < HTML_STACK_MAX / HTML_STACK_PER_BYTE
                                             ? j->len * HTML_STACK_PER_BYTE
                                             : HTML_STACK_MAX);
    if (stack > HTML_STACK_MAX) stack = HTML_STACK_MAX;
    pthread_attr_t attr;
    pthread_t t;
    bool ran = false;
    if (pthread_attr_init(&attr) == 0) {
        if (pthread_attr_setstacksize(&attr, stack) == 0 &&
            pthread_create(&t, &attr, html_job_run, j) == 0) {
            pthread_join(t, NULL);
            ran = true;
        }
        pthread_attr_destroy(&attr);
    }
    if (!ran) html_job_run(j);
    return j->rc;
}

int nx_html_extract(const char *html, size_t len, nx_buf *title, nx_buf *text) {
    html_job j = {.html = html, .len = len, .title = title, .text = text};
    return html_job_do(&j);
}

int nx_html_article_extract(const char *html, size_t len, nx_html_article *out) {
    html_job j = {.html = html, .len = len, .article = out};
    return html_job_do(&j);
}

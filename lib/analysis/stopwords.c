/* analysis/ — the project's own short stopword lists: articles, pronouns,
 * prepositions, conjunctions and the commonest auxiliaries of each language.
 * Kept short on purpose: a stopword is dropped from the index for good, so
 * only words that carry no meaning on their own in news text are listed.
 * Spelled naturally; the analyzer folds them when it loads a list (so "für"
 * matches the folded term "fur"). */
#include "analysis/analysis.h"

#include <stddef.h>
#include <strings.h>

static const char *const english_words[] = {
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "between", "both",
    "but", "by", "can", "could", "did", "do", "does", "doing", "during", "each",
    "for", "from", "had", "has", "have", "having", "he", "her", "here", "hers",
    "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is",
    "it", "its", "itself", "me", "more", "most", "my", "myself", "no", "nor",
    "not", "of", "on", "once", "only", "or", "other", "our", "ours",
    "ourselves", "out", "over", "own", "same", "she", "should", "so", "some",
    "such", "than", "that", "the", "their", "theirs", "them", "themselves",
    "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "very", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would",
    "you", "your", "yours", "yourself", "yourselves", NULL,
};

static const char *const french_words[] = {
    "à", "au", "aux", "avec", "ce", "ces", "cet", "cette", "dans", "de",
    "des", "du", "elle", "elles", "en", "et", "été", "être", "eu", "il",
    "ils", "je", "la", "le", "les", "leur", "leurs", "lui", "ma", "mais",
    "me", "même", "mes", "moi", "mon", "ne", "nos", "notre", "nous", "on",
    "ont", "ou", "où", "par", "pas", "pour", "qu", "que", "qui", "sa", "se",
    "ses", "son", "sont", "sur", "ta", "te", "tes", "toi", "ton", "tu", "un",
    "une", "vos", "votre", "vous", "y", "est", "était", "sans", "sous",
    "entre", "comme", "plus", NULL,
};

static const char *const german_words[] = {
    "aber", "als", "am", "an", "auch", "auf", "aus", "bei", "bin", "bis",
    "bist", "da", "damit", "dann", "das", "dass", "daß", "dem", "den", "der",
    "des", "die", "dies", "diese", "dieser", "dieses", "doch", "du", "durch",
    "ein", "eine", "einem", "einen", "einer", "eines", "er", "es", "für",
    "hat", "hatte", "ich", "ihr", "ihre", "im", "in", "ist", "ja", "kein",
    "keine", "mit", "nach", "nicht", "noch", "nun", "nur", "ob", "oder",
    "ohne", "sein", "seine", "sich", "sie", "sind", "so", "um", "und", "uns",
    "unter", "vom", "von", "vor", "war", "waren", "was", "wie", "wir", "wird",
    "wo", "zu", "zum", "zur", "über", "wurde", "werden", NULL,
};

static const char *const spanish_words[] = {
    "a", "al", "algo", "como", "con", "de", "del", "donde", "el", "él",
    "ella", "ellas", "ellos", "en", "entre", "era", "es", "esa", "ese", "eso",
    "esta", "está", "este", "esto", "fue", "ha", "han", "hay", "la", "las",
    "le", "les", "lo", "los", "más", "me", "mi", "muy", "ni", "no", "nos",
    "o", "para", "pero", "por", "que", "qué", "se", "sin", "sobre", "son",
    "su", "sus", "también", "te", "tu", "un", "una", "uno", "unos", "y", "ya",
    "yo", "desde", "hasta", "cuando", NULL,
};

static const nx_stopword_list english = {"english", "en", english_words};
static const nx_stopword_list french = {"french", "fr", french_words};
static const nx_stopword_list german = {"german", "de", german_words};
static const nx_stopword_list spanish = {"spanish", "es", spanish_words};

const nx_stopword_list *const nx_stopword_lists[] = {
    &english, &french, &german, &spanish, NULL,
};

const nx_stopword_list *nx_stopwords_find(const char *language) {
    if (!language) return NULL;
    for (size_t i = 0; nx_stopword_lists[i]; i++) {
        const nx_stopword_list *l = nx_stopword_lists[i];
        if (strcasecmp(language, l->name) == 0 || strcasecmp(language, l->code) == 0)
            return l;
    }
    return NULL;
}

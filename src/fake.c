/*
 * fake.c - seeded fake customers and addresses for inject: xoshiro256** seeded by splitmix64,
 * the word lists (names, streets, districts), ASCII folding for emails and UTF-8-safe copies.
 * Runs on whichever thread owns the struct fake (inject's); no global mutable state.
 * Must never allocate, do I/O, or write past a field: every output is NUL-terminated valid
 * UTF-8 within its sakila column size. Changing a list or the draw order changes what a
 * given --seed produces.
 */
#include "fake.h"
#include "util.h"

#include <string.h>

#define FAKE_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ~100 first names; a quarter carry accents in UTF-8. */
static const char *const fake_first[] = {
    "Mary",     "Patricia", "Linda",      "Barbara",  "Elizabeth", "Jennifer",    "Maria",
    "Susan",    "Margaret", "Dorothy",    "Lisa",     "Nancy",     "Karen",       "Betty",
    "Helen",    "Sandra",   "Donna",      "Carol",    "Ruth",      "Sharon",      "Michelle",
    "Laura",    "Sarah",    "Kimberly",   "Deborah",  "Jessica",   "Cynthia",     "Angela",
    "Melissa",  "Emily",    "James",      "John",     "Robert",    "Michael",     "William",
    "David",    "Richard",  "Charles",    "Joseph",   "Thomas",    "Christopher", "Daniel",
    "Paul",     "Mark",     "Donald",     "George",   "Kenneth",   "Steven",      "Edward",
    "Brian",    "Ronald",   "Anthony",    "Kevin",    "Jason",     "Matthew",     "Timothy",
    "Jeffrey",  "Mateo",    "Ana",        "Chiara",   "Giulia",    "Matteo",      "Lars",
    "Ingrid",   "Yuki",     "Hiroshi",    "Wei",      "Priya",     "Arjun",       "Aisha",
    "Omar",     "Fatima",   "Mehmet",     "José",     "Zoë",       "Chloé",       "Renée",
    "Björn",    "Jürgen",   "François",   "Søren",    "Åsa",       "Łukasz",      "Małgorzata",
    "Siobhán",  "Seán",     "Inés",       "Raúl",     "Ángel",     "Sofía",       "Lucía",
    "Andrés",   "Noémie",   "Hélène",     "Jérôme",   "Zoltán",    "Ólafur",      "Ayşe",
    "Kateřina", "Tomáš",    "Anne-Marie", "Jean-Luc", "Þórunn",
};

/* ~100 last names; accents, apostrophes, hyphens and particles included. */
static const char *const fake_last[] = {
    "Smith",        "Johnson",    "Williams",    "Jones",      "Brown",     "Davis",
    "Miller",       "Wilson",     "Moore",       "Taylor",     "Anderson",  "Thomas",
    "Jackson",      "White",      "Harris",      "Martin",     "Thompson",  "Robinson",
    "Clark",        "Lewis",      "Lee",         "Walker",     "Hall",      "Allen",
    "Young",        "King",       "Wright",      "Hill",       "Scott",     "Green",
    "Adams",        "Baker",      "Nelson",      "Carter",     "Mitchell",  "Roberts",
    "Turner",       "Phillips",   "Campbell",    "Parker",     "Evans",     "Edwards",
    "Collins",      "Stewart",    "Morris",      "Rogers",     "Cook",      "Morgan",
    "Murphy",       "Bailey",     "García",      "Martínez",   "Rodríguez", "Hernández",
    "López",        "González",   "Pérez",       "Sánchez",    "Núñez",     "Peña",
    "Ibáñez",       "O'Brien",    "O'Connor",    "MacDonald",  "Müller",    "Schröder",
    "Weiß",         "Köhler",     "Fischer",     "Schneider",  "Dvořák",    "Novák",
    "Nowak",        "Wiśniewski", "Kowalczyk",   "Østergaard", "Sørensen",  "Åberg",
    "Lindqvist",    "Järvinen",   "Nieminen",    "Lefèvre",    "Dubois",    "Côté",
    "Bérubé",       "Rossi",      "Bianchi",     "Esposito",   "Yılmaz",    "Öztürk",
    "Şahin",        "Tanaka",     "Suzuki",      "Kim",        "Park",      "Nguyen",
    "Singh",        "Patel",      "Khan",        "Silva",      "Conceição", "Gonçalves",
    "van der Berg", "De la Cruz", "Smith-Jones",
};

/* Street names for "<number> <street> <suffix>". */
static const char *const fake_street[] = {
    "Maple",     "Oak",        "Pine",     "Cedar",     "Elm",      "Willow",   "Birch",
    "Chestnut",  "Walnut",     "Spruce",   "Main",      "Church",   "High",     "Park",
    "Lake",      "Hill",       "River",    "Sunset",    "Highland", "Meadow",   "Forest",
    "Spring",    "Washington", "Lincoln",  "Jefferson", "Madison",  "Franklin", "Victoria",
    "Queen",     "Mill",       "Station",  "Bridge",    "Orchard",  "Garden",   "Harbor",
    "Valley",    "Ridge",      "Prospect", "Cherry",    "Laurel",   "Magnolia", "Hawthorn",
    "São Bento", "Peña",       "Château",  "Lindenhof",
};

static const char *const fake_suffix[] = {
    "Street", "Avenue", "Road",  "Lane",    "Drive",   "Boulevard",
    "Way",    "Court",  "Place", "Terrace", "Parkway", "Circle",
};

/* Second address lines; used for about a third of the persons. */
static const char *const fake_unit[] = {"Apt", "Suite", "Unit", "Floor", "Building"};

/* Districts (states, provinces, regions), each at most 20 bytes. */
static const char *const fake_district[] = {
    "California",
    "Texas",
    "New York",
    "Florida",
    "Ontario",
    "Québec",
    "Alberta",
    "British Columbia",
    "Queensland",
    "New South Wales",
    "Victoria",
    "Bavaria",
    "Île-de-France",
    "Catalonia",
    "Andalucía",
    "São Paulo",
    "Rio de Janeiro",
    "Buenos Aires",
    "Jalisco",
    "Nuevo León",
    "Lombardia",
    "Baden-Württemberg",
    "Nordrhein-Westfalen",
    "Skåne",
    "Uusimaa",
    "Mazowieckie",
    "Małopolskie",
    "Tokyo-to",
    "Osaka",
    "Gyeonggi",
    "Maharashtra",
    "Punjab",
    "Western Cape",
    "Gauteng",
    "Kerala",
    "Nagasaki",
    "Alsace",
    "Zürich",
    "Galicia",
    "Attica",
};

static const char *const fake_domain[] = {"example.com", "example.org", "example.net"};

/* splitmix64 step: advances *x and returns the next output. */
static uint64_t fake_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Rotates x left by k bits (0 < k < 64). */
static inline uint64_t fake_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Expands seed into the xoshiro256** state with splitmix64. */
void fake_init(struct fake *f, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		f->s[i] = fake_splitmix(&x);
	/* splitmix64 never yields four zero words in a row, but keep the invariant explicit */
	if (!(f->s[0] | f->s[1] | f->s[2] | f->s[3]))
		f->s[0] = 1;
}

/* xoshiro256** step (Blackman & Vigna reference algorithm). */
uint64_t fake_next(struct fake *f)
{
	uint64_t *s = f->s;
	uint64_t result = fake_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = fake_rotl(s[3], 45);
	return result;
}

/* Lemire's nearly-divisionless bounded draw: multiply the high 32 bits, reject the bias. */
uint32_t fake_below(struct fake *f, uint32_t n)
{
	if (n == 0)
		return 0;
	uint64_t m = (fake_next(f) >> 32) * (uint64_t)n;
	uint32_t low = (uint32_t)m;
	if (low < n) {
		uint32_t threshold = (uint32_t)(0u - n) % n; /* 2^32 mod n */
		while (low < threshold) {
			m = (fake_next(f) >> 32) * (uint64_t)n;
			low = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

/* Picks one entry of a word list. */
static const char *fake_pick(struct fake *f, const char *const *list, size_t n)
{
	return list[fake_below(f, (uint32_t)n)];
}

/* Bounded copy that never splits a UTF-8 character. */
size_t fake_copy(char *dst, size_t size, const char *src)
{
	return size ? u_copy_utf8(dst, size, src, strnlen(src, size)) : 0;
}

/* Lower-case ASCII for U+00C0..U+00DF (and U+00E0..U+00FE, 0x20 above); "" for x and ÷. */
static const char *const fake_latin1[32] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
};

/* One letter for each of U+0100..U+017F; '*' marks the two-letter ligatures ij and oe. */
static const char fake_latin_ext_a[] = "aaaaaa"
                                       "cccccccc"
                                       "dddd"
                                       "eeeeeeeeee"
                                       "gggggggg"
                                       "hhhh"
                                       "iiiiiiiiii"
                                       "**"
                                       "jj"
                                       "kkk"
                                       "llllllllll"
                                       "nnnnnnnnn"
                                       "oooooo"
                                       "**"
                                       "rrrrrr"
                                       "ssssssss"
                                       "tttttt"
                                       "uuuuuuuuuuuu"
                                       "ww"
                                       "yyy"
                                       "zzzzzz"
                                       "s";
_Static_assert(sizeof(fake_latin_ext_a) == 129, "one letter per code point U+0100..U+017F");

/* ASCII spelling of code point cp (lower-case), or "" when it has none. */
static const char *fake_fold_cp(uint32_t cp)
{
	if (cp >= 0xC0 && cp <= 0xFF) {
		if (cp == 0xFF)
			return "y";
		if (cp == 0xDF)
			return "ss";
		return fake_latin1[(cp >= 0xE0 ? cp - 0x20 : cp) - 0xC0];
	}
	if (cp >= 0x100 && cp <= 0x17F) {
		/* each letter followed by a NUL, so letters + 2 * i is a one-letter string */
		static const char letters[] = "a\0b\0c\0d\0e\0f\0g\0h\0i\0j\0k\0l\0m\0"
		                              "n\0o\0p\0q\0r\0s\0t\0u\0v\0w\0x\0y\0z";
		char c = fake_latin_ext_a[cp - 0x100];
		if (c == '*')
			return cp < 0x140 ? "ij" : "oe";
		return letters + 2 * (c - 'a');
	}
	return "";
}

/* Decodes one UTF-8 sequence at s into *cp (0xFFFD if malformed); returns the bytes used. */
static size_t fake_utf8_decode(const unsigned char *s, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		len = 2, v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07;
	} else {
		*cp = 0xFFFD;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*cp = 0xFFFD;
			return i; /* stops at the NUL or the next lead byte */
		}
		v = (v << 6) | (s[i] & 0x3F);
	}
	*cp = v;
	return len;
}

/* Folds UTF-8 to [a-z0-9] for emails, transliterating Latin letters. */
size_t fake_ascii(const char *in, char *out, size_t size)
{
	if (size == 0)
		return 0;
	const unsigned char *s = (const unsigned char *)in;
	size_t n = 0;
	while (*s) {
		uint32_t cp;
		s += fake_utf8_decode(s, &cp);
		char one[2] = {0, 0};
		const char *fold = one;
		if (cp >= 'A' && cp <= 'Z')
			one[0] = (char)(cp - 'A' + 'a');
		else if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
			one[0] = (char)cp;
		else
			fold = fake_fold_cp(cp);
		for (; *fold && n + 1 < size; fold++)
			out[n++] = *fold;
	}
	out[n] = '\0';
	return n;
}

/* Appends string s to buf (size bytes, *len used) as far as it fits; stays NUL-terminated. */
static void fake_cat(char *buf, size_t size, size_t *len, const char *s)
{
	*len += fake_copy(buf + *len, size - *len, s);
}

/* Appends the decimal digits of v. */
static void fake_cat_num(char *buf, size_t size, size_t *len, uint32_t v)
{
	char tmp[11];
	int i = (int)sizeof(tmp) - 1;
	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	fake_cat(buf, size, len, tmp + i);
}

/* Fills dst (size bytes) with n random digits, the first one non-zero when nonzero_lead. */
static void fake_digits(struct fake *f, char *dst, size_t size, unsigned n, int nonzero_lead)
{
	size_t i = 0;
	for (; i < n && i + 1 < size; i++)
		dst[i] = (char)('0' + (i == 0 && nonzero_lead ? 1 + fake_below(f, 9)
		                                              : fake_below(f, 10)));
	dst[i] = '\0';
}

/* Builds the email from the chosen names: folded first/last, a form, a number, a domain. */
static void fake_email(struct fake *f, struct fake_person *p)
{
	char first[FAKE_EMAIL_FIRST + 1], last[FAKE_EMAIL_LAST + 1];
	if (!fake_ascii(p->first_name, first, sizeof(first)))
		fake_copy(first, sizeof(first), "user");
	if (!fake_ascii(p->last_name, last, sizeof(last)))
		fake_copy(last, sizeof(last), "customer");
	char initial[2] = {first[0], '\0'};
	size_t len = 0;
	char *e = p->email;
	size_t size = sizeof(p->email);
	e[0] = '\0';
	switch (fake_below(f, 3)) {
	case 0: /* jose.muller42 */
		fake_cat(e, size, &len, first);
		fake_cat(e, size, &len, ".");
		break;
	case 1: /* j.muller42 */
		fake_cat(e, size, &len, initial);
		fake_cat(e, size, &len, ".");
		break;
	default: /* josemuller42 */
		fake_cat(e, size, &len, first);
		break;
	}
	fake_cat(e, size, &len, last);
	fake_cat_num(e, size, &len, fake_below(f, 1000));
	fake_cat(e, size, &len, "@");
	fake_cat(e, size, &len, fake_pick(f, fake_domain, FAKE_NELEM(fake_domain)));
}

/* Draws one person; the draw order below is part of what a seed means. */
void fake_person(struct fake *f, struct fake_person *p)
{
	size_t len;

	fake_copy(p->first_name, sizeof(p->first_name),
	          fake_pick(f, fake_first, FAKE_NELEM(fake_first)));
	fake_copy(p->last_name, sizeof(p->last_name),
	          fake_pick(f, fake_last, FAKE_NELEM(fake_last)));
	fake_email(f, p);

	len = 0;
	p->address[0] = '\0';
	fake_cat_num(p->address, sizeof(p->address), &len, 1 + fake_below(f, 9999));
	fake_cat(p->address, sizeof(p->address), &len, " ");
	fake_cat(p->address, sizeof(p->address), &len,
	         fake_pick(f, fake_street, FAKE_NELEM(fake_street)));
	fake_cat(p->address, sizeof(p->address), &len, " ");
	fake_cat(p->address, sizeof(p->address), &len,
	         fake_pick(f, fake_suffix, FAKE_NELEM(fake_suffix)));

	len = 0;
	p->address2[0] = '\0';
	if (fake_below(f, 3) == 0) {
		fake_cat(p->address2, sizeof(p->address2), &len,
		         fake_pick(f, fake_unit, FAKE_NELEM(fake_unit)));
		fake_cat(p->address2, sizeof(p->address2), &len, " ");
		fake_cat_num(p->address2, sizeof(p->address2), &len, 1 + fake_below(f, 400));
	}

	fake_copy(p->district, sizeof(p->district),
	          fake_pick(f, fake_district, FAKE_NELEM(fake_district)));
	fake_digits(f, p->postal_code, sizeof(p->postal_code), 5, 0);
	fake_digits(f, p->phone, sizeof(p->phone), 10 + fake_below(f, 3), 1);
}

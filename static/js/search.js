// Site search over the Pagefind index that `sitegen build` writes to /pagefind/: one index per month of
// stories (see src/sitegen/search.py), merged here, each in every language it holds.
const form = document.querySelector(".search-form");
const input = document.getElementById("search-query");
const status = document.getElementById("search-status");
const list = document.getElementById("search-results");
const controls = form.querySelector(".search-controls");
const section = document.getElementById("search-section");
const year = document.getElementById("search-year");
const sort = document.getElementById("search-sort");
const language = document.documentElement.lang || "en";
const bundle = new URL(form.dataset.bundle, location.href);
const site = new URL(form.dataset.site, location.href).pathname;
const dates = new Intl.DateTimeFormat(language, { dateStyle: "long", timeZone: "UTC" });

function say(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");
}

// An excerpt is Pagefind's text with <mark> around the words found; it is put in as text, the marks as elements.
function excerpt(html) {
  const paragraph = document.createElement("p");
  paragraph.className = "search-excerpt";
  const decoder = document.createElement("textarea");
  html.split(/(<mark>|<\/mark>)/).reduce((marked, part) => {
    if (part === "<mark>") return true;
    if (part === "</mark>") return false;
    decoder.innerHTML = part;
    const text = document.createTextNode(decoder.value);
    if (marked) {
      const mark = document.createElement("mark");
      mark.append(text);
      paragraph.append(mark);
    } else {
      paragraph.append(text);
    }
    return marked;
  }, false);
  return paragraph;
}

function result(data) {
  const item = document.createElement("li");
  item.className = "search-result";
  const heading = document.createElement("h2");
  const link = document.createElement("a");
  link.href = data.url;
  link.textContent = data.meta.title || data.url;
  heading.append(link);
  item.append(heading);
  const meta = document.createElement("p");
  meta.className = "meta";
  if (data.meta.date) {
    const time = document.createElement("time");
    time.dateTime = data.meta.date;
    time.textContent = dates.format(new Date(`${data.meta.date}T00:00:00Z`));
    meta.append(time);
  }
  if (data.meta.section) {
    if (meta.childNodes.length) meta.append(" · ");
    meta.append(data.meta.section);
  }
  item.append(meta, excerpt(data.excerpt));
  return item;
}

function options(select, counts) {
  for (const name of Object.keys(counts || {}).sort((a, b) => (select === year ? b.localeCompare(a) : a.localeCompare(b)))) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    select.append(option);
  }
}

// A step of loading that makes no progress for this long has failed: Pagefind waits forever for a
// shard whose files went while the page loaded it (the index replaced by a build meanwhile).
const STEP_MS = 10000;

function step(promise) {
  let timer = 0;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("the search index stopped loading")), STEP_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function load() {
  const shards = (await step((await step(fetch(new URL("shards.json", bundle)))).json())).shards;
  if (!shards.length) return null;
  const own = (shard) => shard.languages.includes(language);
  const primary = shards.find(own) || shards[0];
  const pagefind = await step(import(new URL(`${primary.path}pagefind.js`, bundle).href));
  await step(pagefind.options({ baseUrl: site, excerptLength: 24 }));
  const first = own(primary) ? language : primary.languages[0];
  for (const shard of shards) {
    for (const each of shard.languages) {
      if (shard === primary && each === first) continue;
      await step(pagefind.mergeIndex(new URL(shard.path, bundle).href, { language: each, baseUrl: site }));
    }
  }
  await step(pagefind.init());
  return pagefind;
}

let pagefind = null;
let loading = true;
let latest = 0;

// Until the index is loaded a search waits; if it cannot load, the form goes where it would without JavaScript.
form.addEventListener("submit", (event) => {
  if (!pagefind && !loading) return;
  event.preventDefault();
  if (pagefind) search();
});

async function search() {
  const query = input.value.trim();
  const state = new URLSearchParams();
  if (query) state.set("q", query);
  for (const [name, select] of [["section", section], ["year", year], ["sort", sort]]) {
    if (select.value) state.set(name, select.value);
  }
  history.replaceState(null, "", state.toString() ? `?${state}` : location.pathname);
  const mine = ++latest;
  if (!query) {
    status.textContent = "";
    list.replaceChildren();
    return;
  }
  const filters = {};
  if (section.value) filters.section = section.value;
  if (year.value) filters.year = year.value;
  const found = await pagefind.search(query, { filters, ...(sort.value ? { sort: { date: "desc" } } : {}) });
  const shown = await Promise.all(found.results.slice(0, 20).map((each) => each.data()));
  if (mine !== latest) return;
  list.replaceChildren(...shown.map(result));
  status.textContent = say(shown.length ? form.dataset.results : form.dataset.none,
    { n: String(found.results.length), q: query });
}

async function start() {
  const params = new URLSearchParams(location.search);
  input.value = params.get("q") || "";
  status.textContent = form.dataset.loading;
  try {
    pagefind = await load();
  } catch (error) {
    console.warn("sitegen search:", error);
  }
  loading = false;
  if (!pagefind) {
    status.textContent = form.dataset.unavailable;
    return;
  }
  const filters = await pagefind.filters();
  options(section, filters.section);
  options(year, filters.year);
  for (const [name, select] of [["section", section], ["year", year], ["sort", sort]]) {
    const wanted = params.get(name);
    if (wanted && [...select.options].some((option) => option.value === wanted)) select.value = wanted;
  }
  controls.hidden = false;
  status.textContent = "";
  let timer = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 200);
  });
  for (const select of [section, year, sort]) select.addEventListener("change", search);
  if (input.value) await search();
}

start();

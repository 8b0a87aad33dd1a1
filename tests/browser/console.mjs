// The admin console walked in a real browser (Debian's Chromium through playwright-core),
// against a running `lanyard serve` prepared by scripts/console-check:
//
//   node console.mjs --base http://127.0.0.1:PORT --key <operator key> --certs DIR --shots DIR
//
// Prints one line per check; exits non-zero at the first failure. Screenshots of every page go
// to --shots, and every page screenshotted is audited with axe-core (WCAG 2.1 A and AA rules):
// a serious or critical violation fails the walk.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, v, i, all) => (i % 2 ? pairs : [...pairs, [v.replace(/^--/, ""), all[i + 1]]]), []),
);
const base = args.base;
const shots = args.shots;
mkdirSync(shots, { recursive: true });
const PASSWORD = "correct horse battery staple";

async function check(what, body) {
  try {
    await body();
    console.log(`ok ${what}`);
  } catch (e) {
    console.log(`FAIL ${what}`);
    console.error(e);
    for (const open of browser.contexts().flatMap((c) => c.pages())) {
      console.error(`-- ${open.url()}\n${await open.locator("body").innerText().catch(() => "")}`);
      await open.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
    }
    process.exit(1);
  }
}

/** The admin API, as the operator. */
async function api(method, path, body) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${args.key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

/** Fails on the page's serious and critical accessibility violations. */
async function accessible(page, name) {
  // Evaluated through the DevTools protocol, which the page's script policy does not govern.
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) {
    await page.evaluate(axeSource);
  }
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const said = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(" ")).join("\n    ")}`);
  assert.equal(bad.length, 0, `accessibility of ${name}:\n  ${said.join("\n  ")}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  await accessible(page, name);
}

/** Signs in through Lanyard's own sign-in pages with a password. */
async function signIn(page, email) {
  await page.goto(`${base}/admin`);
  await page.waitForURL(/\/admin\/login/);
  await page.fill("#org", email);
  await page.press("#org", "Enter");
  await page.waitForSelector("input[name=email]");
  assert.equal(await page.inputValue("input[name=email]"), email, "login_hint fills the address");
  // With an SSO connection on, "Continue" goes to the IdP; these users hold passwords.
  const password = page.locator("button[value=password]");
  await (await password.count() ? password : page.locator("button[type=submit]")).click();
  await page.waitForSelector("input[name=password]");
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/admin`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});

// ---- English walk as the admin ---------------------------------------------------------
const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e));
page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));

await check("/docs leads to the console, the API reference, discovery and SCIM's configuration", async () => {
  const response = await page.goto(`${base}/docs`);
  assert.equal(response.status(), 200);
  assert.match(await page.locator("h1").innerText(), /Documentation/);
  for (const href of ["/admin", "/api/v1/openapi.json", "/.well-known/openid-configuration", "/scim/v2/ServiceProviderConfig"]) {
    const link = page.locator(`main a[href='${href}']`);
    assert.equal(await link.count(), 1, `a link to ${href}`);
    const target = await page.request.get(`${base}${href}`);
    // SCIM's own description, like all of /scim/v2, asks for a SCIM credential.
    const expected = href.startsWith("/scim/") ? 401 : 200;
    assert.equal(target.status(), expected, `${href} answers`);
  }
  await shot(page, "docs");
});

await check("the admin signs in with a password through Lanyard's sign-in", async () => {
  await page.goto(`${base}/admin/login`);
  await shot(page, "login");
  await signIn(page, "admin@acme.test");
  await page.waitForSelector("nav >> text=Single Sign-on");
  await shot(page, "home");
});

let connectionUrl;
await check("an Okta provider is made from a certificate file without BEGIN/END lines; its expiry is shown", async () => {
  await page.goto(`${base}/admin/sso?kind=okta`);
  await page.fill("#name-new", "Okta");
  await page.fill("#issuer-new", "http://www.okta.com/exk1");
  await page.fill("#target-new", "https://acme.okta.example/app/sso/saml");
  await page.setInputFiles("#certificate_file-new", join(args.certs, "first.b64"));
  await shot(page, "sso-new");
  await page.click("form[action='/admin/sso'] button[type=submit]");
  await page.waitForURL(/\/admin\/sso\/[0-9a-f-]+\?notice=created/);
  connectionUrl = page.url().split("?")[0];
  const rows = page.locator("section[aria-labelledby=certs] tbody tr");
  assert.equal(await rows.count(), 1);
  const row = await rows.first().innerText();
  assert.match(row, /CN=First IdP/);
  assert.match(row, /\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC/, "the expiry date");
  assert.match(row, /expires within 30 days/, "a certificate expiring soon is flagged");
  await shot(page, "sso-show");
  await page.goto(`${base}/admin`);
  assert.match(await page.locator("ul.flags").first().innerText(), /CN=First IdP/, "the home page flags it");
  await page.goto(connectionUrl);
});

await check("a second certificate is dropped on its box, and the first removed with its X", async () => {
  const pem = readFileSync(join(args.certs, "second.pem"), "utf8");
  const drop = await page.evaluateHandle((text) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], "second.pem", { type: "application/x-pem-file" }));
    return transfer;
  }, pem);
  await page.dispatchEvent(".drop[data-drop='certificate_file-add']", "drop", { dataTransfer: drop });
  await page.click("form[action$='/certificates'] button[type=submit]");
  await page.waitForURL(/notice=added/);
  const rows = page.locator("section[aria-labelledby=certs] tbody tr");
  assert.equal(await rows.count(), 2);
  await page.click("button[aria-label='Remove the certificate CN=First IdP']");
  await page.waitForURL(/notice=removed/);
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().innerText(), /CN=Second IdP/);
});

await check("the ACS URL is copied with its button", async () => {
  await page.click("button[data-copy=acs]");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, `${base}/saml`);
  assert.equal(await page.inputValue("#orgname"), "acme", "the OrganizationName value to set");
});

await check("a SCIM token is made; it is shown once beside the endpoint, and it works", async () => {
  await page.goto(`${base}/admin/scim-tokens`);
  await page.click("summary.button");
  await page.fill("#token-name", "Okta provisioning");
  await page.click("form[action='/admin/scim-tokens'] button[type=submit]");
  await page.waitForSelector("#token");
  const token = await page.inputValue("#token");
  assert.equal(await page.inputValue("#endpoint"), `${base}/scim/v2`);
  await shot(page, "scim-token-new");
  const scim = await fetch(`${base}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(scim.status, 200, "the new token reads SCIM Users");
  await page.goto(`${base}/admin/scim-tokens`);
  assert.match(await page.locator("tbody").innerText(), /Okta provisioning/);
  assert.equal(await page.locator("#token").count(), 0, "the token is not shown again");
  await shot(page, "scim-tokens");
});

await check("SCIM is turned on for a role with its toggle", async () => {
  const roles = (await api("GET", "/orgs/acme/roles")).json.items;
  const support = roles.find((r) => r.name === "Support");
  assert.ok(!support.permissions.includes("scim"));
  await page.goto(`${base}/admin/roles`);
  const form = page.locator(`form[action='/admin/roles/${support.id}']`);
  await form.locator("input[value=scim]").check();
  await form.locator("button[type=submit]").click();
  await page.waitForURL(/notice=saved/);
  const after = (await api("GET", `/orgs/acme/roles/${support.id}`)).json;
  assert.ok(after.permissions.includes("scim"), JSON.stringify(after));
  assert.match(await page.locator("h2:has-text('Agent')").innerText(), /Given to provisioned users/);
  await shot(page, "roles");
});

await check("a service account gets an access key (secret shown once) and an invitation", async () => {
  await page.goto(`${base}/admin/employees`);
  await page.check("#kind-service");
  await page.fill("#user-name-new", "SCIM AccessKey");
  await page.click("form[method=post][action='/admin/employees'] button[type=submit]");
  await page.waitForURL(/\/security\?notice=created/);
  await page.click("form[action$='/access-keys'] button[type=submit]");
  await page.waitForSelector("#key-secret");
  assert.match(await page.inputValue("#key-id"), /^lak_/);
  assert.ok((await page.inputValue("#key-secret")).length > 20);
  await shot(page, "employee-security-key");
  await page.click("form[action$='/invitation'] button[type=submit]");
  await page.waitForSelector("#activation");
  assert.match(await page.inputValue("#activation"), /\/auth\/activate/);
  await page.goto(page.url().replace(/\/invitation$/, "/security"));
  assert.equal(await page.locator("#key-secret").count(), 0, "the secret is not shown again");
  assert.equal(await page.locator("tbody tr code").count(), 1, "the key is listed");
});

await check("employees are searched and paged", async () => {
  await page.goto(`${base}/admin/employees?q=user-1`);
  const names = await page.locator("tbody td:first-child").allInnerTexts();
  assert.ok(names.length > 0 && names.every((n) => n.includes("user-1")), names.join(","));
  await page.goto(`${base}/admin/employees`);
  assert.equal(await page.locator("tbody tr").count(), 25);
  await page.click("a[rel=next]");
  await page.waitForURL(/page=1/);
  assert.ok((await page.locator("tbody tr").count()) > 0);
  await shot(page, "employees");
});

await check("an OAuth client is registered with seed 001's fields; its secret shown once", async () => {
  await page.goto(`${base}/admin/apps`);
  await page.fill("#app-name", "Okta SCIM");
  await page.fill("#app-contacts", "it@acme.test");
  await page.selectOption("#app-kind", "integration");
  await page.selectOption("#app-method", "client_secret_post");
  await page.fill("#app-redirects", "https://system-admin.okta.com/admin/app/cpc/acme/oauth/callback");
  await page.click("form[action='/admin/apps'] button[type=submit]");
  await page.waitForSelector("#client-secret");
  assert.ok((await page.inputValue("#client-secret")).length > 20);
  await shot(page, "app-new");
  await page.goto(`${base}/admin/apps`);
  assert.match(await page.locator("tbody").innerText(), /Okta SCIM/);
  assert.doesNotMatch(await page.locator("tbody").innerText(), /Admin console/, "the console's own client is not listed");
  await shot(page, "apps");
});

await check("the audit log is filtered by action", async () => {
  await page.goto(`${base}/admin/audit?action=sso_connection.`);
  const actions = await page.locator("tbody td:nth-child(3)").allInnerTexts();
  assert.ok(actions.length >= 3 && actions.every((a) => a.startsWith("sso_connection.")), actions.join(","));
  assert.match(await page.locator("tbody").innerText(), /user:/, "the console user is the actor");
  await shot(page, "audit");
});

await check("a form posted without its CSRF token changes nothing", async () => {
  const roles = (await api("GET", "/orgs/acme/roles")).json.items;
  const agent = roles.find((r) => r.name === "Agent");
  for (const csrf of [undefined, "forged-token"]) {
    const multipart = { name: "Agent", description: "hijacked", permissions: "roles.manage" };
    if (csrf) multipart.csrf = csrf;
    const response = await page.request.post(`${base}/admin/roles/${agent.id}`, { multipart, maxRedirects: 0 });
    assert.equal(response.status(), 403);
  }
  const after = (await api("GET", `/orgs/acme/roles/${agent.id}`)).json;
  assert.deepEqual(after.permissions, agent.permissions);
  assert.equal(after.description, agent.description);
});

await check("pages load no inline script and log no errors; the CSP forbids framing", async () => {
  const response = await page.goto(`${base}/admin/sso?kind=generic`);
  const policy = response.headers()["content-security-policy"];
  assert.match(policy, /frame-ancestors 'none'/);
  assert.doesNotMatch(policy, /unsafe-inline/);
  assert.equal(await page.locator("script:not([src])").count(), 0);
  assert.deepEqual(pageErrors, []);
  await shot(page, "sso-generic");
});

await check("the language switcher changes the console to Korean and remembers it", async () => {
  await page.selectOption("#lang-select", "ko");
  await page.click("form[action='/admin/language'] button[type=submit]");
  await page.waitForURL(/\/admin\/sso/);
  assert.equal(await page.getAttribute("html", "lang"), "ko");
  assert.match(await page.locator("h1").innerText(), /싱글 사인온/);
  await page.goto(`${base}/admin/roles`);
  assert.match(await page.locator("nav").first().innerText(), /역할/);
  await shot(page, "roles-ko");
});

await check("signing out ends the session", async () => {
  await page.click("form[action='/admin/logout'] button[type=submit]");
  await page.waitForURL(/\/admin\/login/);
  await page.goto(`${base}/admin/roles`);
  await page.waitForURL(/\/admin\/login/);
});
await context.close();

// ---- The same walk in Japanese, from the browser's language ----------------------------
const ja = await browser.newContext({ locale: "ja-JP", viewport: { width: 1280, height: 900 } });
const jaPage = await ja.newPage();
await check("in Japanese: sign-in, Single Sign-on, SCIM tokens, roles and employees show Japanese labels", async () => {
  await jaPage.goto(`${base}/admin/login`);
  assert.equal(await jaPage.getAttribute("html", "lang"), "ja");
  assert.match(await jaPage.locator("h1").innerText(), /管理コンソール/);
  await shot(jaPage, "login-ja");
  await signIn(jaPage, "admin@acme.test");
  assert.match(await jaPage.locator("nav").first().innerText(), /シングルサインオン/);
  await jaPage.goto(connectionUrl);
  assert.match(await jaPage.locator("#for-idp").innerText(), /ID ?プロバイダー/);
  assert.match(await jaPage.locator("section[aria-labelledby=certs] tbody").innerText(), /\d{4}年\d{1,2}月\d{1,2}日/);
  await shot(jaPage, "sso-show-ja");
  await jaPage.goto(`${base}/admin/scim-tokens`);
  assert.match(await jaPage.locator("h1").innerText(), /SCIM トークン/);
  await shot(jaPage, "scim-tokens-ja");
  await jaPage.goto(`${base}/admin/roles`);
  assert.match(await jaPage.locator("main").innerText(), /プロビジョニング/);
  await shot(jaPage, "roles-ja");
  await jaPage.goto(`${base}/admin/employees`);
  assert.match(await jaPage.locator("h1").innerText(), /従業員/);
  await shot(jaPage, "employees-ja");
});
await ja.close();

// ---- A user whose role has no permission ----------------------------------------------
const viewer = await browser.newContext({ locale: "en-US" });
const viewerPage = await viewer.newPage();
await check("a user without permissions sees no Single Sign-on entry and gets 403 at its URL", async () => {
  await signIn(viewerPage, "viewer@acme.test");
  assert.doesNotMatch(await viewerPage.locator("nav").first().innerText(), /Single Sign-on/);
  const response = await viewerPage.goto(connectionUrl);
  assert.equal(response.status(), 403);
  assert.match(await viewerPage.locator("h1").innerText(), /Not permitted/);
  const list = await viewerPage.goto(`${base}/admin/sso`);
  assert.equal(list.status(), 403);
  await shot(viewerPage, "forbidden");
});
await viewer.close();

// ---- The operator --------------------------------------------------------------------
const operator = await browser.newContext({ locale: "bg-BG" });
const operatorPage = await operator.newPage();
await check("the operator signs in with an operator key and chooses an organization (in Bulgarian)", async () => {
  await operatorPage.goto(`${base}/admin/login`);
  await operatorPage.click("summary");
  await operatorPage.fill("#key", args.key);
  await operatorPage.click("form[action='/admin/login/operator'] button[type=submit]");
  await operatorPage.waitForURL(/\/admin\/orgs/);
  assert.match(await operatorPage.locator("h1").innerText(), /Организации/);
  await operatorPage.click("form[action='/admin/orgs'] button[type=submit]");
  await operatorPage.waitForURL(`${base}/admin`);
  assert.match(await operatorPage.locator("nav").first().innerText(), /Единен вход/);
  await shot(operatorPage, "home-bg");
});
await operator.close();

await browser.close();
console.log("console: every check passed");

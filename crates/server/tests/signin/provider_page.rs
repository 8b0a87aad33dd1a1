//! The sign-in page names the organization's identity provider and shows its logo, as seed
//! 003's "Provider Name" and "Logo" promise, without letting the logo run or fetch anything.

use super::*;

both_backends!(the_sign_in_page_shows_the_provider, provider_page);

async fn provider_page(db: TestDb) {
    let server = Server::start(&db).await;
    let (app, _, _) = setup(&server, "acme").await;
    let (path, _) = first_connection(&server, "acme").await;
    let logo = "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><script>alert(2)</script><rect width=\"4\" height=\"4\" fill=\"#036\"/></svg>";
    let (s, body) = server
        .op(
            Method::PATCH,
            &path,
            Some(json!({"name": "Acme Okta", "logo_svg": logo})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let mut browser = Browser::new(&server);
    let page = browser.authorize(&auth_params(&app, "n-1")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("img-src data:"), "{policy}");
    assert!(!policy.contains("script-src"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("Continue with Acme Okta"), "{html}");
    let encoded = html
        .split("src=\"data:image/svg+xml;base64,")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no logo in {html}"));
    let svg = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
    assert!(svg.contains("<rect"), "{svg}");
    assert!(!svg.contains("script") && !svg.contains("onload"), "{svg}");
}

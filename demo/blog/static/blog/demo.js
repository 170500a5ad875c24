// The "Like with fetch()" button: an AJAX request the History panel records.
const button = document.getElementById("like-by-fetch");
const output = document.getElementById("fetch-result");

function csrfToken() {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
}

button.addEventListener("click", async () => {
    const response = await fetch(button.dataset.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ username: "ada" }),
    });
    const data = await response.json();
    output.textContent = `post ${data.post} now has ${data.likes} like(s)`;
});

//! Socket.IO, default namespace: initial pushes on connect, `subscribe_students`, and
//! `subscribe_all_grades` / `unsubscribe_all_grades` (the every-grade feed, see [`crate::live`]).
//! Nothing a client sends writes data.

use std::convert::Infallible;

use grades_live::StudentCount;
use serde::Serialize;
use serde_json::Value;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;

use crate::live::{ALL_GRADES_ROOM, RECENT_PUSH_MAX};
use crate::params::{StudentsSelection, STUDENTS_ROOM_PREFIX};
use crate::{api, AppState};

/// Attaches the connect and `subscribe_students` handlers to the default namespace.
pub fn register(io: &SocketIo) {
    // Handlers are attached in the middleware, which runs before the client is told it is
    // connected, so a `subscribe_students` sent right after connecting is never missed.
    io.ns("/", on_connect.with(attach_handlers));
}

async fn attach_handlers(socket: SocketRef, State(state): State<AppState>) -> Result<(), Infallible> {
    state.metrics.clients.inc();
    socket.on_disconnect(async |State(state): State<AppState>| {
        state.metrics.clients.dec();
    });
    socket.on("subscribe_students", on_subscribe_students);
    socket.on("subscribe_all_grades", on_subscribe_all_grades);
    socket.on("unsubscribe_all_grades", on_unsubscribe_all_grades);
    Ok(())
}

/// Joins the every-grade feed; the acknowledgement (when asked for) says it is in effect: every
/// grade announced from then on is pushed in an `all_grades` event.
async fn on_subscribe_all_grades(socket: SocketRef, ack: AckSender) {
    socket.join(ALL_GRADES_ROOM);
    if let Err(error) = ack.send(&FeedAck { all_grades: true }) {
        tracing::debug!(%error, sid = %socket.id, "subscribe_all_grades acknowledgement failed");
    }
}

async fn on_unsubscribe_all_grades(socket: SocketRef, ack: AckSender) {
    socket.leave(ALL_GRADES_ROOM);
    if let Err(error) = ack.send(&FeedAck { all_grades: false }) {
        tracing::debug!(%error, sid = %socket.id, "unsubscribe_all_grades acknowledgement failed");
    }
}

async fn on_connect(socket: SocketRef, State(state): State<AppState>) {
    tracing::debug!(sid = %socket.id, "socket connected");
    match api::totals(&state).await {
        Ok(totals) => emit(&socket, "total", &totals),
        Err(error) => tracing::warn!(%error, "no initial total for a new client"),
    }
    match state.live.recent(RECENT_PUSH_MAX).await {
        Ok(grades) => emit(&socket, "recent_grades", &grades),
        Err(error) => tracing::warn!(%error, "no initial recent grades for a new client"),
    }
    match state.hub.routes(|| api::route_stats(&state)).await {
        Ok(routes) => emit(&socket, "routes", &routes),
        Err(error) => tracing::warn!(%error, "no initial route figures for a new client"),
    }
}

/// Acknowledgement of `subscribe_all_grades` / `unsubscribe_all_grades`.
#[derive(Serialize)]
struct FeedAck {
    all_grades: bool,
}

#[derive(Serialize)]
struct ErrorEvent {
    message: String,
}

fn emit<T: Serialize + ?Sized>(socket: &SocketRef, event: &str, data: &T) {
    if let Err(error) = socket.emit(event, data) {
        tracing::debug!(%error, event, sid = %socket.id, "emit failed");
    }
}

fn reject(socket: &SocketRef, message: String) {
    emit(socket, "error", &ErrorEvent { message });
}

async fn on_subscribe_students(socket: SocketRef, State(state): State<AppState>, TryData(data): TryData<Value>) {
    let Ok(data) = data else {
        return reject(&socket, "subscribe_students expects {\"curso\": \"SO1\", \"semestre\": \"2S\", \"year\": 2023}".into());
    };
    let catalog = match state.catalog.get().await {
        Ok(catalog) => catalog,
        Err(error) => return reject(&socket, format!("subscribe_students: {}", error.message())),
    };
    let selection = match StudentsSelection::from_json(&data, &catalog) {
        Ok(selection) => selection,
        Err(error) => return reject(&socket, format!("subscribe_students: {}", error.message())),
    };
    let room = selection.room();
    let previous: Vec<String> =
        socket.rooms().into_iter().filter(|r| r.starts_with(STUDENTS_ROOM_PREFIX) && **r != *room).map(|r| r.to_string()).collect();
    socket.leave(previous);
    socket.join(room);
    let (curso, semestre, year) = (selection.curso.as_str(), selection.semestre.as_str(), selection.year.get());
    match state.live.students(curso, semestre, year).await {
        // The same shape as every later `students` push (the hub sends the live state's counts).
        Ok(students) => emit(&socket, "students", &StudentCount { curso: curso.to_owned(), semestre: semestre.to_owned(), year, students }),
        Err(error) => {
            tracing::warn!(%error, "students count unavailable");
            reject(&socket, "live student counts are unavailable right now; updates will follow when they return".into());
        }
    }
}

package ocf

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"
	"sync"
	"time"
)

// Level is a log priority, printed the way ocf_log prints it.
type Level int

const (
	Debug Level = iota
	Info
	Warning
	Err
	Crit
)

var levelNames = [...]string{"DEBUG", "INFO", "WARNING", "ERROR", "CRIT"}

func (l Level) String() string { return levelNames[l] }

// Logger writes agent messages in the ha_log shape to syslog, HA_LOGFILE,
// HA_DEBUGLOG and, when neither syslog nor a log file is configured, stderr.
// Secret parameter values are replaced by "***" before anything is written.
type Logger struct {
	mu       sync.Mutex
	tag      string
	debug    bool
	stderr   io.Writer
	syslog   *syslog.Writer
	file     string
	debugLog string
	secrets  []string
	now      func() time.Time
}

// LogConfig is the subset of the environment a Logger honours.
type LogConfig struct {
	Tag       string // HA_LOGTAG, or "<agent>(<resource>)[pid]"
	Debug     bool   // HA_debug=1
	Facility  string // HA_LOGFACILITY; "" or "none" disables syslog
	File      string // HA_LOGFILE
	DebugFile string // HA_DEBUGLOG
	Stderr    io.Writer
}

// LogConfigFromEnv builds a LogConfig from environment variables.
func LogConfigFromEnv(getenv func(string) string, agent, resource string, stderr io.Writer) LogConfig {
	tag := getenv("HA_LOGTAG")
	if tag == "" {
		if resource != "" {
			tag = fmt.Sprintf("%s(%s)[%d]", agent, resource, os.Getpid())
		} else {
			tag = fmt.Sprintf("%s[%d]", agent, os.Getpid())
		}
	}
	d, _ := parseBool(getenv("HA_debug"))
	return LogConfig{
		Tag: tag, Debug: d, Facility: getenv("HA_LOGFACILITY"),
		File: getenv("HA_LOGFILE"), DebugFile: getenv("HA_DEBUGLOG"), Stderr: stderr,
	}
}

var facilities = map[string]syslog.Priority{
	"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "mail": syslog.LOG_MAIL,
	"daemon": syslog.LOG_DAEMON, "auth": syslog.LOG_AUTH, "syslog": syslog.LOG_SYSLOG,
	"lpr": syslog.LOG_LPR, "news": syslog.LOG_NEWS, "uucp": syslog.LOG_UUCP,
	"cron": syslog.LOG_CRON, "authpriv": syslog.LOG_AUTHPRIV, "ftp": syslog.LOG_FTP,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
	"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
	"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

// NewLogger opens the configured sinks. A missing syslog socket is not an
// error: messages then go to the other sinks.
func NewLogger(c LogConfig) *Logger {
	l := &Logger{tag: c.Tag, debug: c.Debug, stderr: c.Stderr, file: c.File, debugLog: c.DebugFile, now: time.Now}
	if f, ok := facilities[strings.ToLower(c.Facility)]; ok {
		if w, err := syslog.Dial("", "", f|syslog.LOG_NOTICE, c.Tag); err == nil {
			l.syslog = w
		}
	}
	return l
}

// Redact makes the logger replace each of values with "***".
func (l *Logger) Redact(values ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range values {
		if v != "" {
			l.secrets = append(l.secrets, v)
		}
	}
}

// Close releases the syslog connection.
func (l *Logger) Close() {
	if l.syslog != nil {
		l.syslog.Close()
	}
}

func (l *Logger) Debugf(format string, args ...any) { l.log(Debug, format, args...) }
func (l *Logger) Infof(format string, args ...any)  { l.log(Info, format, args...) }
func (l *Logger) Warnf(format string, args ...any)  { l.log(Warning, format, args...) }
func (l *Logger) Errorf(format string, args ...any) { l.log(Err, format, args...) }

func (l *Logger) scrub(s string) string {
	for _, secret := range l.secrets {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

func (l *Logger) log(level Level, format string, args ...any) {
	if l == nil || (level == Debug && !l.debug) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	msg := level.String() + ": " + l.scrub(fmt.Sprintf(format, args...))
	date := l.now().Format("2006/01/02_15:04:05")
	if l.syslog != nil {
		switch level {
		case Debug:
			l.syslog.Debug(msg)
		case Info:
			l.syslog.Info(msg)
		case Warning:
			l.syslog.Warning(msg)
		case Err:
			l.syslog.Err(msg)
		default:
			l.syslog.Crit(msg)
		}
	}
	if l.file != "" && level != Debug {
		appendLine(l.file, fmt.Sprintf("%s %s:    %s\n", date, l.tag, msg))
	}
	if l.debugLog != "" && l.debugLog != l.file {
		appendLine(l.debugLog, fmt.Sprintf("%s:\t%s %s\n", l.tag, date, msg))
	}
	if l.syslog == nil && l.file == "" && l.stderr != nil {
		fmt.Fprintf(l.stderr, "%s %s\n", date, msg)
	}
}

// ExitReason prints the ocf-exit-reason line Pacemaker shows for a failed
// action, and logs it as an error.
func (l *Logger) ExitReason(reason string) {
	if reason == "" {
		return
	}
	reason = strings.ReplaceAll(l.scrub(reason), "\n", " ")
	l.log(Err, "%s", reason)
	if l.stderr != nil {
		fmt.Fprintf(l.stderr, "ocf-exit-reason:%s\n", reason)
	}
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(line)
}

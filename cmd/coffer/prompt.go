package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/coffer-drive/coffer/internal/client"
)

func newApp() *app {
	fd := int(os.Stdin.Fd())
	return &app{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		getenv:       os.Getenv,
		isTerminal:   func() bool { return term.IsTerminal(fd) },
		readPassword: func() ([]byte, error) { return term.ReadPassword(fd) },
	}
}

// secret returns the value of env, or asks for it on the terminal without echo.
func (a *app) secret(env, prompt string) ([]byte, error) {
	if v := a.getenv(env); v != "" {
		return []byte(v), nil
	}
	if !a.isTerminal() {
		return nil, fmt.Errorf("%s: set %s or run on a terminal", strings.ToLower(prompt), env)
	}
	fmt.Fprintf(a.stderr, "%s: ", prompt)
	b, err := a.readPassword()
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", strings.ToLower(prompt), err)
	}
	return b, nil
}

// newSecret is secret for a value being chosen: on a terminal it is asked twice.
func (a *app) newSecret(env, prompt string) ([]byte, error) {
	if v := a.getenv(env); v != "" {
		return []byte(v), nil
	}
	first, err := a.secret(env, prompt)
	if err != nil {
		return nil, err
	}
	if len(first) == 0 {
		return nil, errors.New("the password is empty")
	}
	again, err := a.secret(env, "Repeat "+strings.ToLower(prompt))
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(first, again) {
		return nil, errors.New("the two passwords differ")
	}
	return first, nil
}

// value returns flag, else env, else asks for a line on the terminal.
func (a *app) value(flag, env, prompt string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if v := a.getenv(env); v != "" {
		return v, nil
	}
	if !a.isTerminal() {
		return "", fmt.Errorf("no %s: pass it as a flag or set %s", strings.ToLower(prompt), env)
	}
	fmt.Fprintf(a.stderr, "%s: ", prompt)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read %s: %w", strings.ToLower(prompt), err)
	}
	return strings.TrimSpace(line), nil
}

func (a *app) client() (*client.Client, error) {
	cfg, err := client.OpenConfig(a.getenv("COFFER_CONFIG_DIR"))
	if err != nil {
		return nil, err
	}
	c := client.New(cfg, nil)
	if h, err := os.Hostname(); err == nil && h != "" {
		c.DeviceName = h
	}
	return c, nil
}
